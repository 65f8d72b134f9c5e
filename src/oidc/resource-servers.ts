// Resource servers (APIs): a token requested with `resource=<identifier>` is a JWT access token
// whose audience is that identifier, carrying only the scopes the API declares and the application
// is allowed (see resource-grants.ts: an application gets tokens only for the APIs it lists).
import { fromJson, toJson, type Db } from '../db/knex.ts';
import { ConflictError, NotFoundError, ValidationError } from '../errors.ts';
import { onlyFields, type JsonObject } from '../input.ts';
import { pruneGrantScopes } from './resource-grants.ts';
import { fieldsOf, ResourceServerBody } from '../api-schema/types.ts';

export interface ResourceServer {
  identifier: string;
  name: string;
  scopes: string[];
  access_token_ttl: number | null;
  created_at: string;
  updated_at: string;
}

const SCOPE = /^[\x21\x23-\x5B\x5D-\x7E]{1,100}$/;

function toResourceServer(row: Record<string, unknown>): ResourceServer {
  return {
    identifier: String(row.identifier),
    name: String(row.name),
    scopes: fromJson<string[]>(row.scopes, []),
    access_token_ttl: row.access_token_ttl === null || row.access_token_ttl === undefined ? null : Number(row.access_token_ttl),
    created_at: new Date(Number(row.created_at)).toISOString(),
    updated_at: new Date(Number(row.updated_at)).toISOString(),
  };
}

function validate(input: Record<string, unknown>, partial: boolean): Partial<Omit<ResourceServer, 'created_at' | 'updated_at'>> {
  const out: Partial<Omit<ResourceServer, 'created_at' | 'updated_at'>> = {};
  if (!partial || input.identifier !== undefined) {
    if (typeof input.identifier !== 'string') throw new ValidationError('identifier', 'is required (an absolute URL, e.g. https://api.example.com)');
    let url: URL;
    try {
      url = new URL(input.identifier);
    } catch {
      throw new ValidationError('identifier', 'must be an absolute URL');
    }
    if (url.hash || input.identifier.length > 500) throw new ValidationError('identifier', 'must be a URL of at most 500 characters, without a fragment');
    out.identifier = input.identifier;
  }
  if (!partial || input.name !== undefined) {
    if (typeof input.name !== 'string' || !input.name.trim() || input.name.length > 200) throw new ValidationError('name', 'is required (at most 200 characters)');
    out.name = input.name.trim();
  }
  if (input.scopes !== undefined) {
    if (!Array.isArray(input.scopes) || input.scopes.some((s) => typeof s !== 'string' || !SCOPE.test(s))) {
      throw new ValidationError('scopes', 'must be an array of scope names without spaces');
    }
    out.scopes = [...new Set(input.scopes as string[])];
  } else if (!partial) {
    out.scopes = [];
  }
  if (input.access_token_ttl !== undefined && input.access_token_ttl !== null) {
    if (!Number.isInteger(input.access_token_ttl) || (input.access_token_ttl as number) < 30 || (input.access_token_ttl as number) > 86400) {
      throw new ValidationError('access_token_ttl', 'must be a whole number of seconds from 30 to 86400');
    }
    out.access_token_ttl = input.access_token_ttl as number;
  }
  return out;
}

const RESOURCE_SERVER_FIELDS = fieldsOf(ResourceServerBody);
const RESOURCE_SERVER_READ_ONLY = ['created_at', 'updated_at'];

/** The body of POST and PATCH /resource-servers (also a KICKSTART entry): only known fields. */
export function resourceServerInput(body: JsonObject): JsonObject {
  return onlyFields(body, RESOURCE_SERVER_FIELDS, RESOURCE_SERVER_READ_ONLY);
}

export class ResourceServerService {
  readonly #db: Db;

  constructor(db: Db) {
    this.#db = db;
  }

  async create(input: Record<string, unknown>): Promise<ResourceServer> {
    if (input === null || typeof input !== 'object' || Array.isArray(input)) throw new ValidationError('body', 'must be a JSON object');
    const valid = validate(input, false);
    const now = Date.now();
    const row = { identifier: valid.identifier, name: valid.name, scopes: toJson(valid.scopes), access_token_ttl: valid.access_token_ttl ?? null, created_at: now, updated_at: now };
    const inserted = await this.#db('resource_servers').insert(row).onConflict('identifier').ignore().returning('identifier');
    if (inserted.length === 0) throw new ConflictError('identifier', 'is already registered');
    return toResourceServer(row);
  }

  async find(identifier: string): Promise<ResourceServer | null> {
    // Identifiers are URLs of at most 500 characters; PostgreSQL refuses NUL bytes in text outright.
    if (typeof identifier !== 'string' || identifier.length > 500 || identifier.includes('\u0000')) return null;
    const row = await this.#db('resource_servers').where({ identifier }).first();
    return row ? toResourceServer(row) : null;
  }

  async list(): Promise<ResourceServer[]> {
    return (await this.#db('resource_servers').orderBy('created_at', 'asc')).map(toResourceServer);
  }

  async update(identifier: string, input: Record<string, unknown>): Promise<ResourceServer> {
    if (input === null || typeof input !== 'object' || Array.isArray(input)) throw new ValidationError('body', 'must be a JSON object');
    if (!(await this.find(identifier))) throw new NotFoundError('resource server');
    const valid = validate(input, true);
    if (valid.identifier && valid.identifier !== identifier) throw new ValidationError('identifier', 'cannot be changed');
    const changes: Record<string, unknown> = { updated_at: Date.now() };
    if (valid.name) changes.name = valid.name;
    if (valid.scopes) changes.scopes = toJson(valid.scopes);
    if (valid.access_token_ttl !== undefined) changes.access_token_ttl = valid.access_token_ttl;
    await this.#db.transaction(async (trx) => {
      await trx('resource_servers').where({ identifier }).update(changes);
      if (valid.scopes) await pruneGrantScopes(trx, identifier, valid.scopes);
    });
    return (await this.find(identifier))!;
  }

  async delete(identifier: string): Promise<void> {
    if (!(await this.find(identifier))) throw new NotFoundError('resource server');
    if ((await this.#db('resource_servers').where({ identifier }).delete()) === 0) throw new NotFoundError('resource server');
  }
}
