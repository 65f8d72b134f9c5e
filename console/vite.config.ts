// The console's build: one page under /admin/, Preact's automatic JSX runtime, hashed assets that the
// server may cache for ever, and the hook editor (CodeMirror) in a chunk of its own, loaded on demand.
import { defineConfig } from 'vite';

export default defineConfig({
  root: import.meta.dirname,
  base: '/admin/',
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    assetsDir: 'assets',
    target: 'es2022',
    modulePreload: { polyfill: false },
    reportCompressedSize: true,
    // The editor chunk (CodeMirror with the JavaScript parser) is big, and loads only with the editor.
    chunkSizeWarningLimit: 600,
  },
});
