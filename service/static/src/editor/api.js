// The draft API of the model editor (docs/api.md): JSON, the manager's cookie session, and
// the page's CSRF token (base.html puts it on <body> for htmx) on every write.

export class ApiError extends Error {
  /** `detail` is the server's sentence; `problems` come with a refused deploy or upload. */
  constructor(status, detail, problems) {
    super(detail);
    this.status = status;
    this.problems = problems || [];
  }
}

function csrfToken() {
  try {
    return JSON.parse(document.body.getAttribute('hx-headers') || '{}')['X-CSRF-Token'] || '';
  } catch (error) {
    return '';
  }
}

async function call(method, url, body) {
  const headers = { Accept: 'application/json' };
  if (method !== 'GET') { headers['X-CSRF-Token'] = csrfToken(); }
  if (body !== undefined && !(body instanceof FormData)) {
    headers['Content-Type'] = 'application/json';
    body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(url, { method, headers, body, credentials: 'same-origin' });
  } catch (error) {
    throw new ApiError(0, 'The server could not be reached; check the connection.');
  }
  if (response.status === 204) { return null; }
  const data = await response.json().catch(() => null);
  if (!response.ok) {
    // carepath's error shape (docs/api.md): {"error": {"code", "message", "fields"}}; a
    // refused model lists its problems as fields named "file:element".
    const error = (data && data.error) || {};
    const detail = typeof error.message === 'string' ? error.message
      : 'The server answered ' + response.status + '.';
    const fields = error.code === 'invalid_model' ? (error.fields || []) : [];
    const problems = fields.map((field) => {
      const [file, element] = String(field.field || '').split(':');
      return { file: file || '', element: element || null, message: field.message };
    });
    throw new ApiError(response.status, detail, problems);
  }
  return data;
}

/** The calls for one draft. File names may contain "forms/": each part is encoded alone. */
export function draftApi(draftId) {
  const base = '/api/models/drafts/' + encodeURIComponent(draftId);
  const file = (name) => base + '/files/' + name.split('/').map(encodeURIComponent).join('/');
  return {
    get: () => call('GET', base),
    save: (name, text) => call('PUT', file(name), { text }),
    remove: (name) => call('DELETE', file(name)),
    upload: (files) => {
      const form = new FormData();
      Array.from(files).forEach((f) => form.append('files', f, f.name));
      return call('POST', base + '/upload', form);
    },
    problems: () => call('GET', base + '/problems'),
    deploy: () => call('POST', base + '/deploy'),
  };
}
