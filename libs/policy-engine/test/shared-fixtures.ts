import * as fs from 'node:fs';
import * as path from 'node:path';
import { repoRoot } from '@portcullis/config';

/** ../shared beside the repository (CI has it; a clone elsewhere does not). */
export const SHARED = path.resolve(repoRoot(), '..', 'shared');
export const sharedAvailable = (sub: string): boolean => fs.existsSync(path.join(SHARED, sub));
export const NO_SHARED = (sub: string) => `../shared/${sub} is not beside this clone`;
