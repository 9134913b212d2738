import { Injectable, type PipeTransform } from '@nestjs/common';
import { Args, ID, Int } from '@nestjs/graphql';
import { badInput } from '@portcullis/platform';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

@Injectable()
class UuidPipe implements PipeTransform<unknown, string> {
  constructor(private readonly field: string) {}
  transform(value: unknown): string {
    if (typeof value !== 'string' || !UUID.test(value))
      throw badInput(this.field, `${this.field}: "${String(value).slice(0, 64)}" is not a valid id`);
    return value.toLowerCase();
  }
}

/** An `ID!` argument that must be a UUID; a bad one is BAD_USER_INPUT naming the argument. */
export const IdArg = (name = 'id') => Args(name, { type: () => ID }, new UuidPipe(name));

/** An optional `[ID!]` argument of at most `max` UUIDs; a bad one is BAD_USER_INPUT naming its index. */
export const IdListArg = (name: string, max: number) =>
  Args(
    name,
    { type: () => [ID], nullable: true },
    {
      transform(value: unknown): string[] | undefined {
        if (value === undefined || value === null) return undefined;
        if (!Array.isArray(value)) throw badInput(name, `${name}: must be a list of ids`);
        if (value.length > max) throw badInput(name, `${name}: at most ${max} ids, got ${value.length}`);
        return value.map((v: unknown, i) => new UuidPipe(`${name}[${i}]`).transform(v));
      },
    },
  );

/** The optional `version` argument of optimistic concurrency. */
export const VersionArg = () =>
  Args(
    'version',
    {
      type: () => Int,
      nullable: true,
      description: 'When given, the change is refused with CONFLICT if the policy moved past it.',
    },
    {
      transform(value: unknown) {
        if (value === undefined || value === null) return undefined;
        if (typeof value !== 'number' || !Number.isInteger(value) || value < 1)
          throw badInput('version', 'version: must be a positive integer');
        return value;
      },
    },
  );
