// The API documentation (/docs): Swagger UI drawing this server's OpenAPI. The page's markup
// names the schema (data-openapi-url); no inline script, so the page keeps the site's
// Content-Security-Policy (service/core/security_headers.py).
(function () {
  'use strict';
  var root = document.getElementById('swagger-ui');
  window.ui = window.SwaggerUIBundle({
    url: root.getAttribute('data-openapi-url'),
    dom_id: '#swagger-ui',
    layout: 'BaseLayout',
    deepLinking: true,
    showExtensions: true,
    showCommonExtensions: true,
    // No badge from the online validator (validator.swagger.io).
    validatorUrl: null,
    presets: [window.SwaggerUIBundle.presets.apis,
              window.SwaggerUIBundle.SwaggerUIStandalonePreset]
  });
}());
