/** Runs the CLI from source (under tsx), as bin/caxton.js runs it from dist. */
import { main } from '../../src/cli/main.js';

await main(process.argv);
