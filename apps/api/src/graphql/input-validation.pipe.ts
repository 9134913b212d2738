import { Injectable, ValidationPipe, type ArgumentMetadata } from '@nestjs/common';
import { findControlCharacter } from '@portcullis/contracts';
import { badInput } from '@portcullis/platform';
import { validationPipeOptions } from './errors';

/**
 * The global pipe of every GraphQL argument and REST body: control characters are refused
 * in every string (values and keys, JSON scalars included) before class-validator runs, so
 * a new field is covered without anyone remembering to. The refusal names the field.
 */
@Injectable()
export class InputValidationPipe extends ValidationPipe {
  constructor() {
    super(validationPipeOptions);
  }

  override async transform(value: unknown, metadata: ArgumentMetadata): Promise<unknown> {
    if (metadata.type !== 'custom') {
      // fields are named as class-validator names them: inside an input object without its argument's name
      const root = typeof value === 'object' && value !== null && !Array.isArray(value) ? '' : (metadata.data ?? '');
      const found = findControlCharacter(value, root);
      if (found) {
        const field = found.path || metadata.data || 'input';
        throw badInput(field, `${field}: ${found.problem}`);
      }
    }
    return super.transform(value, metadata);
  }
}
