/** Part 4 of the list-filter matrix: see list-visibility.ts. */
import { describeListPart } from './list-visibility';

describeListPart(3);
