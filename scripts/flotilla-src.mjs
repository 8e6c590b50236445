// The `flotilla` command from the TypeScript sources, through tsx: `npm run flotilla -- ARGS` and
// the CLI tests, so neither needs dist/ built or current. tsx's loader also lets --machines name
// a .ts module on any Node.
import { existsSync } from 'node:fs';
import 'tsx';

// The wire schema's code is generated, not committed: say so rather than fail on an import.
if (!existsSync(new URL('../src/transport/generated/flotilla.js', import.meta.url))) {
  process.stderr.write("flotilla: the protobuf code is not generated yet: run 'npm run proto' in the flotilla directory first\n");
  process.exit(1);
}
const { main } = await import(new URL('../src/cli/main.ts', import.meta.url).href);
process.exitCode = await main(process.argv.slice(2));
