import { Injectable, type PipeTransform } from '@nestjs/common';
import { Args, ID, Int } from '@nestjs/graphql';
import { badInput } from '@portcullis/platform';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

@Injectable()
class UuidPipe implements PipeTransform<unknown, string> {
  constructor(private readonly field: string) {}
  transform(value: unknown): string {
    if (typeof value !== 'string' || !UUID.test(value)) throw badInput(this.field, `${this.field}: "${String(value).slice(0, 64)}" is not a valid id`);
    return value.toLowerCase();
  }
}

/** An `ID!` argument that must be a UUID; a bad one is BAD_USER_INPUT naming the argument. */
export const IdArg = (name = 'id') => Args(name, { type: () => ID }, new UuidPipe(name));

/** The optional `version` argument of optimistic concurrency. */
export const VersionArg = () =>
  Args('version', { type: () => Int, nullable: true, description: 'When given, the change is refused with CONFLICT if the policy moved past it.' }, {
    transform(value: unknown) {
      if (value === undefined || value === null) return undefined;
      if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) throw badInput('version', 'version: must be a positive integer');
      return value;
    },
  });
