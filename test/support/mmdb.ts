// Writes a small MaxMind DB (.mmdb) file for tests, so a suite can give GEOIP_DB a database whose
// answers it knows (no npm package writes the format). IPv4 only, 32-bit records; the data types
// the location records need: maps, arrays, strings, doubles and unsigned integers. The format:
// https://maxmind.github.io/MaxMind-DB/ (search tree, 16 zero bytes, data section, metadata).
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

type Value = string | number | boolean | Value[] | { [key: string]: Value };

/** A network and its record (a whole number is stored as a uint32, any other as a double). */
export interface MmdbNetwork {
  /** "192.0.2.0/24" */
  cidr: string;
  record: { [key: string]: Value };
}

function control(type: number, size: number): Buffer {
  const extended = type > 7;
  const head = (extended ? 0 : type) << 5;
  let sizeBytes: Buffer;
  let sizeBits: number;
  if (size < 29) {
    sizeBits = size;
    sizeBytes = Buffer.alloc(0);
  } else if (size < 285) {
    sizeBits = 29;
    sizeBytes = Buffer.from([size - 29]);
  } else if (size < 65_821) {
    sizeBits = 30;
    sizeBytes = Buffer.alloc(2);
    sizeBytes.writeUInt16BE(size - 285);
  } else {
    throw new Error('value too large for this test writer');
  }
  return Buffer.concat([Buffer.from([head | sizeBits]), extended ? Buffer.from([type - 7]) : Buffer.alloc(0), sizeBytes]);
}

function unsigned(value: number): Buffer {
  const bytes: number[] = [];
  for (let rest = value; rest > 0; rest = Math.floor(rest / 256)) bytes.unshift(rest % 256);
  return Buffer.from(bytes);
}

function encode(value: Value): Buffer {
  if (typeof value === 'string') {
    const bytes = Buffer.from(value, 'utf8');
    return Buffer.concat([control(2, bytes.length), bytes]);
  }
  if (typeof value === 'boolean') return control(14, value ? 1 : 0);
  if (typeof value === 'number') {
    if (Number.isInteger(value) && value >= 0 && value < 2 ** 32) {
      const bytes = unsigned(value);
      return Buffer.concat([control(6, bytes.length), bytes]);
    }
    const bytes = Buffer.alloc(8);
    bytes.writeDoubleBE(value);
    return Buffer.concat([control(3, 8), bytes]);
  }
  if (Array.isArray(value)) return Buffer.concat([control(11, value.length), ...value.map(encode)]);
  const entries = Object.entries(value);
  return Buffer.concat([control(7, entries.length), ...entries.flatMap(([k, v]) => [encode(k), encode(v)])]);
}

/** The metadata's small numbers are uint16 by the format's definition. */
function uint16(value: number): Buffer {
  return Buffer.concat([control(5, 2), Buffer.from([value >> 8, value & 0xff])]);
}

interface Node {
  children: [Node | number | null, Node | number | null];
}

function bits(cidr: string): { address: number; prefix: number } {
  const [ip, prefix] = cidr.split('/');
  const address = ip!.split('.').reduce((sum, octet) => sum * 256 + Number(octet), 0);
  return { address, prefix: Number(prefix) };
}

/** The .mmdb bytes for `networks` (non-overlapping IPv4 networks). */
export function buildMmdb(networks: MmdbNetwork[], databaseType = 'Tessera-Test-City'): Buffer {
  const data: Buffer[] = [];
  let dataLength = 0;
  const root: Node = { children: [null, null] };
  for (const network of networks) {
    const encoded = encode(network.record);
    const offset = dataLength;
    data.push(encoded);
    dataLength += encoded.length;
    const { address, prefix } = bits(network.cidr);
    let node = root;
    for (let depth = 0; depth < prefix; depth++) {
      const bit = (address >>> (31 - depth)) & 1;
      if (depth === prefix - 1) {
        node.children[bit] = -1 - offset; // a data offset, resolved once the nodes are counted
      } else {
        const child = node.children[bit];
        if (typeof child === 'number') throw new Error(`overlapping networks at ${network.cidr}`);
        if (child === null) node.children[bit] = { children: [null, null] };
        node = node.children[bit] as Node;
      }
    }
  }
  const nodes: Node[] = [];
  const number = new Map<Node, number>();
  const queue = [root];
  while (queue.length) {
    const node = queue.shift()!;
    number.set(node, nodes.length);
    nodes.push(node);
    for (const child of node.children) if (child && typeof child === 'object') queue.push(child);
  }
  const nodeCount = nodes.length;
  const tree = Buffer.alloc(nodeCount * 8);
  nodes.forEach((node, i) => {
    node.children.forEach((child, side) => {
      // An empty branch points at nodeCount ("no data"); data at nodeCount + 16 + its offset.
      const record = child === null ? nodeCount : typeof child === 'number' ? nodeCount + 16 + (-1 - child) : number.get(child)!;
      tree.writeUInt32BE(record, i * 8 + side * 4);
    });
  });
  const metadata = Buffer.concat([
    control(7, 9),
    encode('node_count'),
    encode(nodeCount),
    encode('record_size'),
    uint16(32),
    encode('ip_version'),
    uint16(4),
    encode('database_type'),
    encode(databaseType),
    encode('languages'),
    encode(['en']),
    encode('binary_format_major_version'),
    uint16(2),
    encode('binary_format_minor_version'),
    uint16(0),
    encode('build_epoch'),
    encode(Math.floor(Date.now() / 1000)),
    encode('description'),
    encode({ en: 'A database written by a Tessera test' }),
  ]);
  return Buffer.concat([tree, Buffer.alloc(16), ...data, Buffer.from([0xab, 0xcd, 0xef]), Buffer.from('MaxMind.com'), metadata]);
}

/** Writes the database to a fresh temporary file and answers its path. */
export function writeMmdb(networks: MmdbNetwork[]): string {
  const path = join(mkdtempSync(join(tmpdir(), 'tessera-geo-')), 'test.mmdb');
  writeFileSync(path, buildMmdb(networks));
  return path;
}

/** A GeoIP2-City-shaped record. */
export function cityRecord(country: string, options: { region?: string; city?: string; latitude?: number; longitude?: number } = {}): MmdbNetwork['record'] {
  const record: MmdbNetwork['record'] = { country: { iso_code: country, names: { en: country } } };
  if (options.region) record.subdivisions = [{ iso_code: options.region, names: { en: options.region } }];
  if (options.city) record.city = { names: { en: options.city } };
  if (options.latitude !== undefined && options.longitude !== undefined) record.location = { latitude: options.latitude, longitude: options.longitude };
  return record;
}
