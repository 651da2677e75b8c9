import assert from "#assert";
import { ManualClock } from "../clock.ts";
import type { StreamConn, StreamListener } from "../transport/tcp.ts";
import { RelayService } from "./relay.ts";
import type { RelayLimits } from "./relay_sessions.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

/** One end of an in-memory connection: what is written to it, the other end reads. */
class MemEnd {
  readonly inbox: Uint8Array[] = [];
  #wake: (() => void) | undefined;
  closed = false;
  peer!: MemEnd;

  push(bytes: Uint8Array | null): void {
    if (bytes) this.inbox.push(bytes.slice());
    else this.closed = true;
    this.#wake?.();
  }

  async read(buffer: Uint8Array): Promise<number | null> {
    while (this.inbox.length === 0) {
      if (this.closed) return null;
      await new Promise<void>((resolve) => (this.#wake = resolve));
    }
    const chunk = this.inbox[0]!;
    const n = Math.min(buffer.length, chunk.length);
    buffer.set(chunk.subarray(0, n));
    if (n === chunk.length) this.inbox.shift();
    else this.inbox[0] = chunk.subarray(n);
    return n;
  }

  write(bytes: Uint8Array): Promise<number> {
    if (this.closed || this.peer.closed) return Promise.reject(new Error("closed"));
    this.peer.push(bytes);
    return Promise.resolve(bytes.length);
  }

  close(): void {
    if (this.closed) return;
    this.push(null);
    this.peer.push(null);
  }

  asConn(): StreamConn {
    const addr = { transport: "tcp" as const, hostname: "192.0.2.9", port: 1 };
    return {
      read: (b) => this.read(b),
      write: (b) => this.write(b),
      close: () => this.close(),
      closeWrite: () => Promise.resolve(this.peer.push(null)),
      localAddr: addr,
      remoteAddr: addr,
    } as StreamConn;
  }
}

function pair(): [MemEnd, MemEnd] {
  const a = new MemEnd();
  const b = new MemEnd();
  a.peer = b;
  b.peer = a;
  return [a, b];
}

/** A listener the test feeds; yields the relay's ends. */
class FakeListener implements StreamListener {
  readonly local = { ip: "192.0.2.1", port: 3345 };
  readonly #queue: StreamConn[] = [];
  #wake: (() => void) | undefined;
  #closed = false;

  /** A client connects: returns its end. */
  connect(): MemEnd {
    const [client, server] = pair();
    this.#queue.push(server.asConn());
    this.#wake?.();
    return client;
  }

  close(): void {
    this.#closed = true;
    this.#wake?.();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<StreamConn> {
    for (;;) {
      while (this.#queue.length === 0) {
        if (this.#closed) return;
        await new Promise<void>((resolve) => (this.#wake = resolve));
      }
      yield this.#queue.shift()!;
    }
  }
}

/** Let pending promise jobs run. */
async function settle(): Promise<void> {
  for (let i = 0; i < 20; i++) await Promise.resolve();
  await new Promise((resolve) => setTimeout(resolve, 0));
}

function received(end: MemEnd): string {
  return end.inbox.map((b) => dec.decode(b)).join("");
}

function relayWith(limits: Partial<RelayLimits> = {}) {
  const clock = new ManualClock();
  const listener = new FakeListener();
  const events: unknown[] = [];
  const relay = new RelayService({
    listener,
    clock,
    limits,
    maxHellos: 2,
    onEvent: (e) => events.push(e),
  });
  const serving = relay.serve();
  return {
    clock,
    listener,
    relay,
    events,
    async [Symbol.asyncDispose]() {
      await relay.close();
      await serving;
    },
  };
}

/** The client at `end` sends its hello. */
function hello(end: MemEnd, key: string): void {
  end.peer.push(enc.encode(`LUMI-RELAY ${key}\n`));
}

Deno.test("two parties with their keys are joined; bytes pass unchanged both ways", async () => {
  await using t = relayWith();
  const offer = t.relay.request("a@d", "b@d");
  if (!offer.ok) throw new Error("refused");
  const a = t.listener.connect();
  const b = t.listener.connect();
  hello(a, offer.session.keys.caller);
  await settle();
  assert.equal(received(a), "", "no OK before the other party");
  hello(b, offer.session.keys.callee);
  await settle();
  assert.equal(received(a), "OK\n");
  assert.equal(received(b), "OK\n");
  a.inbox.length = b.inbox.length = 0;
  const bytes = new Uint8Array([0, 1, 2, 255, 10, 13, 0x4e]);
  a.peer.push(bytes);
  await settle();
  assert.deepEqual(b.inbox, [bytes]);
  b.peer.push(enc.encode("N03Bob"));
  await settle();
  assert.equal(received(a), "N03Bob");
  a.close();
  await settle();
  assert.ok(b.closed, "one side closing ends the session");
  assert.deepEqual(t.events.at(-1), {
    kind: "ended",
    caller: "a@d",
    callee: "b@d",
    why: "closed",
    fromCaller: 7,
    fromCallee: 6,
  });
  assert.equal(t.relay.size, 0);
});

Deno.test("a wrong or used key is answered NO and closed", async () => {
  await using t = relayWith();
  const offer = t.relay.request("a@d", "b@d");
  if (!offer.ok) throw new Error("refused");
  const stranger = t.listener.connect();
  hello(stranger, "AAAAAAAAAAAAAAAAAAAAAA");
  await settle();
  assert.equal(received(stranger), "NO unknown-key\n");
  assert.ok(stranger.closed);
  const a = t.listener.connect();
  hello(a, offer.session.keys.caller);
  const thief = t.listener.connect();
  hello(thief, offer.session.keys.caller);
  await settle();
  assert.equal(received(thief), "NO used-key\n");
  const junk = t.listener.connect();
  junk.peer.push(enc.encode("GET / HTTP/1.1\n"));
  await settle();
  assert.equal(received(junk), "NO hello\n");
});

Deno.test("a connection that sends no hello is closed after helloMs; too many waiting are closed at once", async () => {
  await using t = relayWith({ helloMs: 5_000 });
  const one = t.listener.connect();
  const two = t.listener.connect();
  await settle();
  const three = t.listener.connect(); // past maxHellos = 2
  await settle();
  assert.ok(three.closed);
  t.clock.advance(4_999);
  await settle();
  assert.ok(!one.closed && !two.closed);
  t.clock.advance(1);
  await settle();
  assert.ok(one.closed && two.closed);
});

Deno.test("a party whose peer never comes is closed after pairMs, and the session freed", async () => {
  await using t = relayWith({ pairMs: 10_000 });
  const offer = t.relay.request("a@d", "b@d");
  if (!offer.ok) throw new Error("refused");
  const a = t.listener.connect();
  hello(a, offer.session.keys.caller);
  await settle();
  t.clock.advance(10_000);
  await settle();
  assert.ok(a.closed);
  assert.equal(t.relay.size, 0);
  assert.equal((t.events.at(-1) as { why: string }).why, "unpaired");
});

Deno.test("a joined session is cut when idle, and at its byte budget (the excess not sent)", async () => {
  await using t = relayWith({ idleMs: 60_000, maxBytes: 1_024 });
  const join = async (caller: string) => {
    const offer = t.relay.request(caller, "b@d");
    if (!offer.ok) throw new Error("refused");
    const a = t.listener.connect();
    const b = t.listener.connect();
    hello(a, offer.session.keys.caller);
    hello(b, offer.session.keys.callee);
    await settle();
    a.inbox.length = b.inbox.length = 0;
    return [a, b] as const;
  };
  const [a, b] = await join("a@d");
  t.clock.advance(30_000);
  a.peer.push(enc.encode("x"));
  await settle();
  t.clock.advance(59_999);
  await settle();
  assert.ok(!a.closed, "a byte 30 s in moved the idle deadline");
  t.clock.advance(1);
  await settle();
  assert.ok(a.closed && b.closed);
  assert.equal((t.events.at(-1) as { why: string }).why, "idle");

  const [c, d] = await join("c@d");
  c.peer.push(new Uint8Array(1_000));
  c.peer.push(new Uint8Array(100));
  await settle();
  assert.equal(d.inbox.reduce((n, x) => n + x.length, 0), 1_024);
  assert.ok(c.closed && d.closed);
  assert.equal((t.events.at(-1) as { why: string }).why, "bytes");
});
