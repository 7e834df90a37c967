/** `ringcast <command>`: wires the parts; nothing else lives here. */
import { runDemo } from './demo.ts';

const USAGE = `usage: ringcast <command> [options]

commands:
  coordinator   membership, ring, viewer entry and content steering
  origin        RTMP ingest, transcode, packaging
  relay         cache-and-forward node
  demo          a coordinator, an origin and N relays on this machine
  streams       register streams and manage their keys on a coordinator
  token         a playback token and URL for a private stream

Every option is a flag and a RINGCAST_* variable; 'ringcast <command> --help' lists them.`;

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'coordinator':
      return (await import('../coordinator/main.ts')).runCoordinator(rest);
    case 'origin':
      return (await import('../origin/main.ts')).runOrigin(rest);
    case 'relay':
      return (await import('../relay/main.ts')).runRelay(rest);
    case 'demo':
      return runDemo(rest);
    case 'streams':
      return (await import('./streams.ts')).runStreams(rest);
    case 'token':
      return (await import('./token.ts')).runToken(rest);
    case undefined:
    case '--help':
    case '-h':
    case 'help':
      process.stdout.write(`${USAGE}\n`);
      return;
    default:
      process.stderr.write(`ringcast: unknown command '${command}'\n\n${USAGE}\n`);
      process.exitCode = 2;
  }
}

await main(process.argv.slice(2));
