import type { CliCommand } from '../command';
import { admitCommand } from './admit';
import { compileCommand } from './compile';
import { demoCommand } from './demo';
import { devTokenCommand } from './dev-token';
import { evalCommand } from './eval';
import { tenantCommand } from './tenant';

/** Every sub-command of `portcullis`, in the order `--help` lists them. */
export const COMMANDS: readonly CliCommand[] = [
  evalCommand,
  compileCommand,
  admitCommand,
  devTokenCommand,
  tenantCommand,
  demoCommand,
];
