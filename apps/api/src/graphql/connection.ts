import { ArgsType, Field, Int, ObjectType } from '@nestjs/graphql';
import type { Type } from '@nestjs/common';
import { IsOptional, IsString, Max, MaxLength, Min } from 'class-validator';
import { badInput } from '@portcullis/platform';

/** Relay-style pagination arguments shared by every list. */
@ArgsType()
export class PageArgs {
  @Field(() => Int, { nullable: true, description: 'Page size, 1-100 (default 25).' })
  @IsOptional()
  @Min(1)
  @Max(100)
  first?: number;

  @Field(() => String, { nullable: true, description: 'Cursor of the last edge of the previous page.' })
  @IsOptional()
  @IsString()
  @MaxLength(512)
  after?: string;
}

@ObjectType()
export class PageInfo {
  @Field()
  hasNextPage!: boolean;

  @Field(() => String, { nullable: true })
  endCursor!: string | null;
}

export interface Edge<T> {
  cursor: string;
  node: T;
}

export interface Connection<T> {
  edges: Edge<T>[];
  pageInfo: PageInfo;
  totalCount: number;
}

/** Builds the `XConnection` / `XEdge` object types of one node type. */
export function ConnectionType<T>(node: Type<T>, name: string): Type<Connection<T>> {
  @ObjectType(`${name}Edge`)
  class EdgeType {
    @Field()
    cursor!: string;

    @Field(() => node)
    node!: T;
  }

  @ObjectType(`${name}Connection`)
  class ConnectionClass {
    @Field(() => [EdgeType])
    edges!: EdgeType[];

    @Field(() => PageInfo)
    pageInfo!: PageInfo;

    @Field(() => Int, { description: 'Items matching the filter, over all pages.' })
    totalCount!: number;
  }
  return ConnectionClass as Type<Connection<T>>;
}

/** Keyset position: the sort key and id of the last item seen. */
export interface Position {
  readonly key: string;
  readonly id: string;
}

export function encodeCursor(position: Position): string {
  return Buffer.from(JSON.stringify([position.key, position.id])).toString('base64url');
}

export function decodeCursor(cursor: string | undefined): Position | undefined {
  if (cursor === undefined) return undefined;
  try {
    const value: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (Array.isArray(value) && value.length === 2 && typeof value[0] === 'string' && typeof value[1] === 'string') {
      return { key: value[0], id: value[1] };
    }
  } catch {
    // fall through to the error below
  }
  throw badInput('after', 'is not a cursor returned by this list');
}

export const pageSize = (args: PageArgs): number => args.first ?? 25;

/** Newest first by `createdAt`, then `id`: what a page of such a list sorts by. */
export const NEWEST_FIRST = [{ createdAt: 'desc' as const }, { id: 'desc' as const }];

/** `where` narrowed to the rows after `after` in NEWEST_FIRST order (Prisma where input). */
export function newestFirstAfter<W extends object>(where: W, after: Position | undefined): W {
  if (!after) return where;
  const at = new Date(after.key);
  // every model listed this way has createdAt and id, so this is a where input of W's model
  return { AND: [where, { OR: [{ createdAt: { lt: at } }, { createdAt: at, id: { lt: after.id } }] }] } as W;
}

/** A row's cursor position in NEWEST_FIRST order. */
export const newestFirstPosition = (row: { createdAt: Date; id: string }): Position => ({
  key: row.createdAt.toISOString(),
  id: row.id,
});

/** Turns `pageSize + 1` fetched rows into a connection (the extra row only says there is more). */
export function toConnection<R, T>(
  rows: readonly R[],
  size: number,
  totalCount: number,
  position: (row: R) => Position,
  toNode: (row: R) => T,
): Connection<T> {
  const page = rows.slice(0, size);
  const edges = page.map((row) => ({ cursor: encodeCursor(position(row)), node: toNode(row) }));
  return {
    edges,
    totalCount,
    pageInfo: { hasNextPage: rows.length > size, endCursor: edges.length ? edges[edges.length - 1]!.cursor : null },
  };
}
