// Bundles the pages' own browser code with the libraries it imports (esbuild, from
// package.json) into node_modules/.carepath/, beside the libraries themselves: built files are
// never committed, and the server hands them out through VENDOR_FILES (service/core/pages.py).
// `npm run build` runs this; scripts/setup.sh does when a source is newer than the output.
//   carepath-editor.js, carepath-editor.css  the managers' model editor (bpmn-js and dmn-js
//                                            modelers, properties panel, auto layout)
//   carepath-diagram.js                      read-only diagrams (bpmn-js NavigatedViewer)
import { build } from 'esbuild';

// Older browsers' font formats, referenced in the font CSS beside the WOFF (with ?version
// suffixes, which esbuild's `external` patterns do not match): no browser we serve asks for
// them, so they stay out of the bundle, left as references.
const oldFontFormats = {
  name: 'old-font-formats',
  setup(build) {
    build.onResolve({ filter: /\.(eot|ttf|svg)([?#].*)?$/ }, (args) => (
      args.kind === 'url-token' ? { path: args.path, external: true } : undefined));
  },
};

const started = Date.now();
const result = await build({
  entryPoints: {
    'carepath-editor': 'service/static/src/editor.js',
    'carepath-diagram': 'service/static/src/diagram.js',
  },
  outdir: 'node_modules/.carepath',
  bundle: true,
  minify: true,
  format: 'iife',
  target: ['es2020'],
  legalComments: 'eof', // the libraries' licence notices stay in the bundle
  define: { 'process.env.NODE_ENV': '"production"' },
  loader: {
    // The icon fonts (bpmn-js palette, dmn-js table controls) go inside the CSS, so the
    // bundle is one file to serve; the embedded font CSS already carries them as WOFF.
    '.woff': 'dataurl',
    '.woff2': 'dataurl',
  },
  plugins: [oldFontFormats],
  metafile: true,
  logLevel: 'warning',
});
const outputs = Object.entries(result.metafile.outputs)
  .map(([file, output]) => `${file} ${(output.bytes / 1024).toFixed(0)} KiB`);
console.log(`bundled in ${Date.now() - started} ms: ${outputs.join(', ')}`);
