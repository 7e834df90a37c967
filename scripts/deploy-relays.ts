/** `scripts/deploy-relays`: run relays on this host or on a fleet over ssh, and replace them one by one. */
import { DeployError, messageOf } from './deploy/errors.ts';
import { deployLocal, localRollingRestart, localStatus, localStop } from './deploy/local-fleet.ts';
import { type DeployOptions, parseOptions, USAGE } from './deploy/options.ts';
import { Reporter } from './deploy/reporter.ts';
import { deploySsh, sshRollingRestart, sshStatus, sshStop } from './deploy/ssh-fleet.ts';

/** Runs one action; resolves with the exit status. */
export async function run(opts: DeployOptions, reporter: Reporter): Promise<number> {
  const ssh = opts.ssh.hostsFile !== undefined;
  switch (opts.action) {
    case 'local':
      await deployLocal(opts, reporter);
      return 0;
    case 'ssh':
      await deploySsh(opts, reporter);
      return 0;
    case 'status':
      return (ssh ? await sshStatus(opts, reporter) : await localStatus(opts, reporter)) ? 0 : 3;
    case 'stop':
      await (ssh ? sshStop(opts, reporter) : localStop(opts, reporter));
      return 0;
    case 'rolling-restart':
      await (ssh ? sshRollingRestart(opts, reporter) : localRollingRestart(opts, reporter));
      return 0;
  }
}

async function main(argv: string[]): Promise<void> {
  const reporter = new Reporter();
  if (argv.length === 0 || argv.includes('--help') || argv.includes('-h') || argv[0] === 'help') {
    reporter.info(USAGE);
    return;
  }
  try {
    process.exitCode = await run(parseOptions(argv), reporter);
  } catch (err) {
    if (err instanceof DeployError) {
      reporter.error(err.message, err.details);
      if (err.code === 'DEPLOY_USAGE') reporter.info("\n'scripts/deploy-relays --help' lists the options");
      process.exitCode = err.exitStatus;
    } else {
      reporter.error(messageOf(err), err instanceof Error && err.stack ? [err.stack] : []);
      process.exitCode = 1;
    }
  }
}

await main(process.argv.slice(2));
