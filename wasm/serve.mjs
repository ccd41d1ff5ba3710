// A static server for the repository, for the browser example and tests:
//   node wasm/serve.mjs [PORT]     then open http://127.0.0.1:PORT/examples/browser/
// Every response carries a strict Content-Security-Policy and no COOP/COEP headers,
// to show that conveyor needs neither unsafe-eval, blob: workers nor cross-origin
// isolation. .wasm is served as application/wasm. Only files under the repository.
import { createServer } from 'node:http';
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const CSP = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; worker-src 'self'";
const TYPES = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8', '.json': 'application/json', '.wasm': 'application/wasm', '.png': 'image/png',
  '.jpg': 'image/jpeg', '.webp': 'image/webp', '.gif': 'image/gif', '.bmp': 'image/bmp', '.tiff': 'image/tiff',
  '.ico': 'image/x-icon', '.bin': 'application/octet-stream', '.svg': 'image/svg+xml',
};

export function serve(port = 0, root = ROOT) {
  const server = createServer(async (req, res) => {
    try {
      const url = new URL(req.url, 'http://localhost');
      let file = path.normalize(path.join(root, decodeURIComponent(url.pathname)));
      if (!file.startsWith(root)) throw Object.assign(new Error('outside'), { status: 403 });
      if ((await stat(file)).isDirectory()) file = path.join(file, 'index.html');
      const body = await readFile(file);
      res.writeHead(200, {
        'content-type': TYPES[path.extname(file)] || 'application/octet-stream',
        'content-security-policy': CSP,
        'cache-control': 'no-store',
      });
      res.end(body);
    } catch (e) {
      res.writeHead(e.status || 404, { 'content-type': 'text/plain', 'content-security-policy': CSP });
      res.end('not found');
    }
  });
  return new Promise((resolve) => server.listen(port, '127.0.0.1', () => resolve(server)));
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const server = await serve(Number(process.argv[2] || 8000));
  const { port } = server.address();
  console.log(`serving ${ROOT} at http://127.0.0.1:${port}/  (example: http://127.0.0.1:${port}/examples/browser/)`);
}
