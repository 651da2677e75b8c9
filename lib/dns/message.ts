/**
 * The DNS wire format (RFC 1035, SRV from RFC 2782), only as much as LUMI
 * needs: build an A or SRV query, read the answer with TTLs. Pure; decoding
 * never throws.
 *
 * @module
 */

/** Record types LUMI asks for or follows. */
export const RecordType = { A: 1, CNAME: 5, SOA: 6, SRV: 33 } as const;

/** A record type number. */
export type RecordType = typeof RecordType[keyof typeof RecordType];

/** An SRV record's data. */
export interface SrvData {
  readonly priority: number;
  readonly weight: number;
  readonly port: number;
  /** Target host name, without the trailing dot. */
  readonly target: string;
}

/** One resource record of the answer section. */
export type DnsRecord =
  | { readonly type: "A"; readonly name: string; readonly ttl: number; readonly ip: string }
  | { readonly type: "CNAME"; readonly name: string; readonly ttl: number; readonly target: string }
  | { readonly type: "SRV"; readonly name: string; readonly ttl: number; readonly srv: SrvData };

/** A decoded response. */
export interface DnsResponse {
  readonly id: number;
  /** 0 no error, 2 server failure, 3 no such name (NXDOMAIN), 5 refused… */
  readonly rcode: number;
  readonly truncated: boolean;
  readonly answers: readonly DnsRecord[];
  /** How long a negative answer may be cached (from the SOA of the authority section), in seconds. */
  readonly negativeTtl?: number;
}

/** The result of {@linkcode decodeDnsResponse}. */
export type DnsDecodeResult =
  | { readonly ok: true; readonly response: DnsResponse }
  | { readonly ok: false; readonly error: string };

/**
 * Build a recursive query for `name` of `type`.
 *
 * @example
 * ```ts
 * const bytes = encodeDnsQuery(0x1234, "_plumi._udp.bb.com", RecordType.SRV);
 * ```
 */
export function encodeDnsQuery(id: number, name: string, type: RecordType): Uint8Array {
  const labels = name.replace(/\.$/, "").split(".").filter((l) => l !== "");
  const nameBytes = labels.reduce((n, l) => n + 1 + l.length, 1);
  const out = new Uint8Array(12 + nameBytes + 4);
  const view = new DataView(out.buffer);
  view.setUint16(0, id);
  view.setUint16(2, 0x0100); // recursion desired
  view.setUint16(4, 1); // one question
  let offset = 12;
  for (const label of labels) {
    if (label.length > 63) throw new RangeError(`DNS label "${label}" is longer than 63 bytes`);
    out[offset++] = label.length;
    for (let i = 0; i < label.length; i++) out[offset++] = label.charCodeAt(i) & 0x7f;
  }
  out[offset++] = 0;
  view.setUint16(offset, type);
  view.setUint16(offset + 2, 1); // class IN
  return out;
}

class Malformed extends Error {}

class Reader {
  readonly view: DataView;
  offset = 12;

  constructor(readonly bytes: Uint8Array) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  need(n: number): void {
    if (this.offset + n > this.bytes.length) throw new Malformed("message ends early");
  }

  u16(): number {
    this.need(2);
    const v = this.view.getUint16(this.offset);
    this.offset += 2;
    return v;
  }

  u32(): number {
    this.need(4);
    const v = this.view.getUint32(this.offset);
    this.offset += 4;
    return v;
  }

  /** Read a possibly compressed name starting at the cursor. */
  name(): string {
    const [name, end] = this.nameAt(this.offset);
    this.offset = end;
    return name;
  }

  nameAt(start: number): [string, number] {
    const labels: string[] = [];
    let offset = start;
    let end = -1;
    let jumps = 0;
    let length = 0;
    for (;;) {
      if (offset >= this.bytes.length) throw new Malformed("name runs past the end");
      const len = this.bytes[offset]!;
      if ((len & 0xc0) === 0xc0) {
        if (offset + 1 >= this.bytes.length) throw new Malformed("truncated name pointer");
        if (++jumps > 64) throw new Malformed("name pointer loop");
        if (end < 0) end = offset + 2;
        offset = ((len & 0x3f) << 8) | this.bytes[offset + 1]!;
        continue;
      }
      if (len & 0xc0) throw new Malformed("unknown label type");
      if (len === 0) {
        if (end < 0) end = offset + 1;
        return [labels.join("."), end];
      }
      if (offset + 1 + len > this.bytes.length) throw new Malformed("label runs past the end");
      length += len + 1;
      if (length > 255) throw new Malformed("name longer than 255 bytes");
      labels.push(String.fromCharCode(...this.bytes.subarray(offset + 1, offset + 1 + len)));
      offset += 1 + len;
    }
  }
}

/** Decode a DNS response. Never throws. */
export function decodeDnsResponse(bytes: Uint8Array): DnsDecodeResult {
  if (bytes.length < 12) return { ok: false, error: "DNS message shorter than its header" };
  try {
    const r = new Reader(bytes);
    const id = r.view.getUint16(0);
    const flags = r.view.getUint16(2);
    if ((flags & 0x8000) === 0) {
      return { ok: false, error: "DNS message is a query, not a response" };
    }
    const counts = [4, 6, 8, 10].map((o) => r.view.getUint16(o)) as [
      number,
      number,
      number,
      number,
    ];
    for (let i = 0; i < counts[0]; i++) {
      r.name();
      r.need(4);
      r.offset += 4;
    }
    const answers: DnsRecord[] = [];
    let negativeTtl: number | undefined;
    const total = counts[1] + counts[2];
    for (let i = 0; i < total; i++) {
      const name = r.name();
      const type = r.u16();
      r.u16(); // class
      const ttl = r.u32();
      const rdLength = r.u16();
      r.need(rdLength);
      const rdStart = r.offset;
      const inAnswer = i < counts[1];
      if (inAnswer && type === RecordType.A && rdLength === 4) {
        answers.push({
          type: "A",
          name,
          ttl,
          ip: Array.from(bytes.subarray(rdStart, rdStart + 4)).join("."),
        });
      } else if (inAnswer && type === RecordType.CNAME) {
        answers.push({ type: "CNAME", name, ttl, target: r.nameAt(rdStart)[0] });
      } else if (inAnswer && type === RecordType.SRV && rdLength >= 7) {
        const srv: SrvData = {
          priority: r.view.getUint16(rdStart),
          weight: r.view.getUint16(rdStart + 2),
          port: r.view.getUint16(rdStart + 4),
          target: r.nameAt(rdStart + 6)[0],
        };
        answers.push({ type: "SRV", name, ttl, srv });
      } else if (!inAnswer && type === RecordType.SOA) {
        let at = r.nameAt(rdStart)[1];
        at = r.nameAt(at)[1];
        if (at + 20 > rdStart + rdLength) throw new Malformed("SOA record too short");
        negativeTtl = Math.min(ttl, r.view.getUint32(at + 16));
      }
      r.offset = rdStart + rdLength;
    }
    return {
      ok: true,
      response: {
        id,
        rcode: flags & 0x000f,
        truncated: (flags & 0x0200) !== 0,
        answers,
        ...(negativeTtl !== undefined && { negativeTtl }),
      },
    };
  } catch (error) {
    if (error instanceof Malformed) {
      return { ok: false, error: `malformed DNS message: ${error.message}` };
    }
    throw error;
  }
}
