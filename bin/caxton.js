#!/usr/bin/env node
// The installed entry point: runs the compiled CLI from dist/.
import { existsSync } from 'node:fs';

const entry = new URL('../dist/cli/main.js', import.meta.url);
if (!existsSync(entry)) {
  process.stderr.write('caxton is not built yet: run `npm install` (it builds) or `npm run build` in the Caxton directory.\n');
  process.exit(1);
}
const { main } = await import(entry.href);
await main(process.argv);
