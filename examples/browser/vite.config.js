// Vite build of the example (the bundler variant the tests check): `npx vite build`
// from this folder, with wasm/'s node_modules providing vite.
export default {
  root: '.',
  base: './',
  build: { outDir: 'dist', emptyOutDir: true, target: 'es2022' },
  worker: { format: 'es' },
};
