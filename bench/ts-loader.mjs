// Runs a TypeScript bench script with Node 24's type stripping. The sources
// import siblings as `./x.js` (NodeNext style); this hook maps them to `./x.ts`.
// Usage: node bench/ts-loader.mjs bench/<script>.ts [args]
import { existsSync } from 'node:fs';
import { registerHooks } from 'node:module';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

registerHooks({
  resolve(specifier, context, next) {
    if (specifier.startsWith('.') && specifier.endsWith('.js') && context.parentURL?.startsWith('file:')) {
      const ts = path.resolve(path.dirname(fileURLToPath(context.parentURL)), specifier.replace(/\.js$/, '.ts'));
      if (existsSync(ts)) return next(pathToFileURL(ts).href, context);
    }
    return next(specifier, context);
  },
});

const script = process.argv[2];
if (script === undefined) throw new Error('usage: node bench/ts-loader.mjs bench/<script>.ts');
process.argv.splice(2, 1);
await import(pathToFileURL(path.resolve(script)).href);
