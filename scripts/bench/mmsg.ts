/**
 * Batched UDP for the load generator: libc's `sendmmsg`/`recvmmsg` through
 * Deno's FFI (Linux, 64-bit). One system call sends or receives a whole batch,
 * so the generator spends a fraction of what the server under test spends per
 * packet (Deno's `DatagramConn` costs one async op per datagram, exactly what
 * the server pays, and cannot drive a Deno server to its limit on two cores).
 *
 * Endpoints are IPv4 keys (`ip * 65536 + port`, see {@linkcode endpointKey}),
 * so that a reply can go back to a sender without building objects.
 *
 * Needs `--allow-ffi`. Never used by the programs, only by `scripts/bench/`.
 *
 * @module
 */

/** Bytes of one send or receive slot: a PLUMI packet is at most 100 bytes. */
export const SLOT_BYTES = 128;

const AF_INET = 2;
const SOCK_DGRAM = 2;
const SOL_SOCKET = 1;
const SO_RCVTIMEO = 20;
const SO_RCVBUF = 8;
const SO_SNDBUF = 7;
const MSG_WAITFORONE = 0x10000;
const EAGAIN = 11;
const EINTR = 4;

// struct sockaddr_in: 16; struct iovec: 16; struct mmsghdr: msghdr (56) + msg_len (4) + pad.
const SOCKADDR = 16;
const IOVEC = 16;
const MMSGHDR = 64;

const SYMBOLS = {
  socket: { parameters: ["i32", "i32", "i32"], result: "i32" },
  bind: { parameters: ["i32", "buffer", "u32"], result: "i32" },
  getsockname: { parameters: ["i32", "buffer", "buffer"], result: "i32" },
  setsockopt: { parameters: ["i32", "i32", "i32", "buffer", "u32"], result: "i32" },
  sendmmsg: { parameters: ["i32", "buffer", "u32", "i32"], result: "i32" },
  recvmmsg: { parameters: ["i32", "buffer", "u32", "i32", "pointer"], result: "i32" },
  close: { parameters: ["i32"], result: "i32" },
  open: { parameters: ["buffer", "i32"], result: "i32" },
  read: { parameters: ["i32", "buffer", "usize"], result: "isize" },
  __errno_location: { parameters: [], result: "pointer" },
} as const;

type Libc = Deno.DynamicLibrary<typeof SYMBOLS>["symbols"];

let libc: Libc | undefined;

function load(): Libc {
  if (libc) return libc;
  if (Deno.build.os !== "linux") {
    throw new Error(`batched UDP needs Linux's sendmmsg/recvmmsg (this is ${Deno.build.os})`);
  }
  libc = Deno.dlopen("libc.so.6", SYMBOLS).symbols;
  return libc;
}

function errno(c: Libc): number {
  const at = c.__errno_location();
  return at ? new Deno.UnsafePointerView(at).getInt32() : 0;
}

/**
 * Read a small file such as `/proc/<pid>/stat` through libc. Deno asks for
 * `--allow-all` to read anything under `/proc`, which the generator is not
 * given; it has `--allow-ffi` for its sockets anyway.
 */
export function readSystemFile(path: string): string {
  const c = load();
  const fd = c.open(new TextEncoder().encode(`${path}\0`), 0);
  if (fd < 0) throw new Error(`cannot open ${path}, errno ${errno(c)}`);
  const chunks: Uint8Array[] = [];
  try {
    for (;;) {
      const buffer = new Uint8Array(new ArrayBuffer(8192));
      const n = Number(c.read(fd, buffer, 8192n));
      if (n < 0) throw new Error(`cannot read ${path}, errno ${errno(c)}`);
      if (n === 0) break;
      chunks.push(buffer.subarray(0, n));
    }
  } finally {
    c.close(fd);
  }
  const decoder = new TextDecoder();
  return chunks.map((chunk) => decoder.decode(chunk)).join("");
}

/** `a.b.c.d` and a port as one number. */
export function endpointKey(ip: string, port: number): number {
  const parts = ip.split(".").map(Number);
  if (parts.length !== 4 || parts.some((p) => !(p >= 0 && p <= 255))) {
    throw new RangeError(`not an IPv4 address: ${ip}`);
  }
  const [a, b, c, d] = parts as [number, number, number, number];
  return ((a * 256 + b) * 256 + c) * 256 * 256 * 256 + d * 65536 + port;
}

/** The IP of an endpoint key. */
export function keyIp(key: number): string {
  const ip = Math.floor(key / 65536);
  return `${ip >>> 24}.${(ip >>> 16) & 255}.${(ip >>> 8) & 255}.${ip & 255}`;
}

/** The port of an endpoint key. */
export function keyPort(key: number): number {
  return key % 65536;
}

/** Where a buffer lives in memory, as a number usable in a struct. */
function address(buffer: ArrayBuffer): bigint {
  return BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(buffer)));
}

/** A set of `count` mmsghdr slots, each with its own data buffer and sockaddr. */
class SlotArray {
  readonly count: number;
  readonly headers: Uint8Array;
  readonly headerView: DataView;
  readonly data: Uint8Array;
  readonly names: Uint8Array;
  readonly nameView: DataView;
  readonly iovecView: DataView;
  // Kept referenced so the memory the headers point into stays alive.
  readonly #iovecs: Uint8Array;

  constructor(count: number) {
    this.count = count;
    // Large (off-heap) ArrayBuffers: V8 never moves their contents.
    this.headers = new Uint8Array(new ArrayBuffer(MMSGHDR * count));
    this.headerView = new DataView(this.headers.buffer);
    this.data = new Uint8Array(new ArrayBuffer(SLOT_BYTES * count));
    this.names = new Uint8Array(new ArrayBuffer(SOCKADDR * count));
    this.nameView = new DataView(this.names.buffer);
    this.#iovecs = new Uint8Array(new ArrayBuffer(IOVEC * count));
    const iov = new DataView(this.#iovecs.buffer);
    const dataAt = address(this.data.buffer as ArrayBuffer);
    const namesAt = address(this.names.buffer as ArrayBuffer);
    const iovAt = address(this.#iovecs.buffer as ArrayBuffer);
    for (let i = 0; i < count; i++) {
      iov.setBigUint64(IOVEC * i, dataAt + BigInt(SLOT_BYTES * i), true);
      iov.setBigUint64(IOVEC * i + 8, BigInt(SLOT_BYTES), true);
      const h = MMSGHDR * i;
      this.headerView.setBigUint64(h, namesAt + BigInt(SOCKADDR * i), true); // msg_name
      this.headerView.setUint32(h + 8, SOCKADDR, true); // msg_namelen
      this.headerView.setBigUint64(h + 16, iovAt + BigInt(IOVEC * i), true); // msg_iov
      this.headerView.setBigUint64(h + 24, 1n, true); // msg_iovlen
    }
    this.iovecView = iov;
  }
}

/** A UDP socket that sends and receives datagrams in batches. */
export class BatchSocket {
  /** Endpoint key of the bound address. */
  readonly local: number;
  readonly #c: Libc;
  readonly #fd: number;
  readonly #out: SlotArray;
  readonly #in: SlotArray;
  #queued = 0;
  #received = 0;
  #timeoutMs = -1;
  #closed = false;

  /**
   * Bind `ip:port` (port 0 picks one). `batch` is the most datagrams sent or
   * received by one system call.
   */
  constructor(ip = "127.0.0.1", port = 0, batch = 512) {
    this.#c = load();
    const fd = this.#c.socket(AF_INET, SOCK_DGRAM, 0);
    if (fd < 0) throw new Error(`socket() failed, errno ${errno(this.#c)}`);
    this.#fd = fd;
    const name = new Uint8Array(new ArrayBuffer(SOCKADDR));
    writeSockaddr(new DataView(name.buffer), 0, endpointKey(ip, port));
    if (this.#c.bind(fd, name, SOCKADDR) !== 0) {
      const code = errno(this.#c);
      this.#c.close(fd);
      throw new Error(`cannot bind UDP ${ip}:${port}, errno ${code}`);
    }
    const length = new Uint32Array([SOCKADDR]);
    this.#c.getsockname(fd, name, new Uint8Array(length.buffer));
    this.local = readSockaddr(new DataView(name.buffer), 0);
    // Room for bursts: a few MB either way (the kernel caps it at rmem_max/wmem_max).
    const size = new Uint8Array(new Int32Array([4 << 20]).buffer);
    this.#c.setsockopt(fd, SOL_SOCKET, SO_RCVBUF, size, 4);
    this.#c.setsockopt(fd, SOL_SOCKET, SO_SNDBUF, size, 4);
    this.#out = new SlotArray(batch);
    this.#in = new SlotArray(batch);
  }

  /** The next free send slot, to write a packet into before {@linkcode commit}. */
  slot(): Uint8Array {
    if (this.#queued === this.#out.count) this.flush();
    const at = SLOT_BYTES * this.#queued;
    return this.#out.data.subarray(at, at + SLOT_BYTES);
  }

  /** Queue the packet written into {@linkcode slot}: `length` bytes for endpoint `to`. */
  commit(length: number, to: number): void {
    const i = this.#queued++;
    this.#out.iovecView.setBigUint64(IOVEC * i + 8, BigInt(length), true);
    writeSockaddr(this.#out.nameView, SOCKADDR * i, to);
    this.#out.headerView.setUint32(MMSGHDR * i + 8, SOCKADDR, true);
  }

  /** Queue an ASCII string as one packet for `to`. */
  queueText(text: string, to: number): void {
    const slot = this.slot();
    for (let i = 0; i < text.length; i++) slot[i] = text.charCodeAt(i);
    this.commit(text.length, to);
  }

  /** Queued packets not yet sent. */
  get queued(): number {
    return this.#queued;
  }

  /** Send everything queued. */
  flush(): void {
    let sent = 0;
    while (sent < this.#queued) {
      const n = this.#c.sendmmsg(
        this.#fd,
        this.#out.headers.subarray(MMSGHDR * sent),
        this.#queued - sent,
        0,
      );
      if (n < 0) {
        const code = errno(this.#c);
        if (code === EINTR || code === EAGAIN) continue;
        this.#queued = 0;
        throw new Error(`sendmmsg failed, errno ${code}`);
      }
      sent += n;
    }
    this.#queued = 0;
  }

  /**
   * Block until at least one datagram arrives or `timeoutMs` passes; take
   * every datagram already waiting (up to the batch size). Returns how many;
   * read them with {@linkcode datagram} and {@linkcode source}.
   */
  receive(timeoutMs: number): number {
    if (timeoutMs !== this.#timeoutMs) {
      const ms = Math.max(1, Math.ceil(timeoutMs));
      const tv = new BigInt64Array([BigInt(Math.floor(ms / 1000)), BigInt((ms % 1000) * 1000)]);
      this.#c.setsockopt(this.#fd, SOL_SOCKET, SO_RCVTIMEO, new Uint8Array(tv.buffer), 16);
      this.#timeoutMs = timeoutMs;
    }
    const headers = this.#in.headerView;
    for (let i = 0; i < this.#received; i++) headers.setUint32(MMSGHDR * i + 8, SOCKADDR, true);
    for (;;) {
      const n = this.#c.recvmmsg(this.#fd, this.#in.headers, this.#in.count, MSG_WAITFORONE, null);
      if (n >= 0) {
        this.#received = n;
        return n;
      }
      const code = errno(this.#c);
      if (code === EINTR) continue;
      this.#received = 0;
      if (code === EAGAIN) return 0;
      throw new Error(`recvmmsg failed, errno ${code}`);
    }
  }

  /** The `i`-th datagram of the last {@linkcode receive} (valid until the next one). */
  datagram(i: number): Uint8Array {
    const length = Math.min(this.#in.headerView.getUint32(MMSGHDR * i + 56, true), SLOT_BYTES);
    return this.#in.data.subarray(SLOT_BYTES * i, SLOT_BYTES * i + length);
  }

  /** Endpoint key of the sender of the `i`-th datagram. */
  source(i: number): number {
    return readSockaddr(this.#in.nameView, SOCKADDR * i);
  }

  /** Close the socket. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#c.close(this.#fd);
  }
}

function writeSockaddr(view: DataView, at: number, key: number): void {
  view.setUint16(at, AF_INET, true);
  view.setUint16(at + 2, key % 65536, false);
  view.setUint32(at + 4, Math.floor(key / 65536), false);
}

function readSockaddr(view: DataView, at: number): number {
  return view.getUint32(at + 4, false) * 65536 + view.getUint16(at + 2, false);
}
