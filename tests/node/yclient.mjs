// A standard Yjs client (yjs + y-websocket's WebsocketProvider over the `ws` package) that
// the Rust integration tests drive, to prove a stock Yjs client can sync a Renraku room.
//
//   node yclient.mjs <ws-base-url> <room-id> <token> <command> [args]
//
//   <ws-base-url>  e.g. ws://127.0.0.1:PORT/yjs  (the provider connects to <base>/<room>?token=…)
//   dump                               print {posts, reactions, pins, read} as one JSON line
//   write-post <postId> <authorUserId> <text>
//                                      write a post, wait until it is sent, then print `ok`,
//                                      or `rejected <code> <reason>` if the server closed the
//                                      connection within a second of it (exit 0 either way)
//   wait-post <postId> <timeoutMs>     print the post as JSON once it appears
//
// Exit codes: 0 done; 2 connection failed or closed before sync; 3 wait-post timed out;
// 4 the global timeout (15 s, or wait-post's timeout + 5 s) passed; 64 bad usage. Diagnostics go to stderr.

import * as Y from "yjs";
import { WebsocketProvider } from "y-websocket";
import WebSocket from "ws";

const GLOBAL_TIMEOUT_MS = 15_000;
const SETTLE_MS = 1_000;

const USAGE =
  "usage: node yclient.mjs <ws-base-url> <room-id> <token> " +
  "(dump | write-post <postId> <authorUserId> <text> | wait-post <postId> <timeoutMs>)";

const [base, roomId, token, command, ...args] = process.argv.slice(2);
const arity = { dump: 0, "write-post": 3, "wait-post": 2 };
if (!base || !roomId || token === undefined || !(command in arity) || args.length !== arity[command]) {
  console.error(USAGE);
  process.exit(64);
}

const ydoc = new Y.Doc();
let provider = null;
let done = false;

function finish(code, stdout) {
  if (done) return;
  done = true;
  closeHandler = () => {}; // destroy() below closes the socket: that is no error
  try {
    provider?.destroy();
  } catch {
    // exiting anyway
  }
  // Writes to a pipe finish later: exiting at once would cut a long dump at 64 KiB.
  if (stdout === undefined) process.exit(code);
  process.stdout.write(stdout + "\n", () => process.exit(code));
}

function fail(code, message) {
  if (done) return;
  console.error(`yclient: ${message}`);
  finish(code);
}

// Never hang: every path ends in finish(); this is the backstop.
const globalTimeoutMs =
  command === "wait-post" ? Math.max(GLOBAL_TIMEOUT_MS, Number(args[1]) + 5_000) : GLOBAL_TIMEOUT_MS;
setTimeout(() => fail(4, `global timeout (${globalTimeoutMs} ms) during ${command}`), globalTimeoutMs);

function snapshot() {
  return {
    posts: ydoc.getMap("posts").toJSON(),
    reactions: ydoc.getMap("reactions").toJSON(),
    pins: ydoc.getMap("pins").toJSON(),
    read: ydoc.getMap("read").toJSON(),
  };
}

provider = new WebsocketProvider(base, roomId, ydoc, {
  WebSocketPolyfill: WebSocket,
  params: { token },
  // One process, one connection: no cross-tab channel, no periodic resync.
  disableBc: true,
});

let synced = false;
let closeHandler = (event) => {
  const detail = event ? `code ${event.code}${event.reason ? `, ${event.reason}` : ""}` : "closed locally";
  fail(2, `connection to ${provider.url.replace(/token=[^&]*/, "token=…")} closed before sync (${detail})`);
};
provider.on("connection-error", (event) => {
  if (!synced) fail(2, `cannot connect: ${event?.message ?? event?.error?.message ?? "error"}`);
});
provider.on("connection-close", (event) => closeHandler(event));

provider.once("synced", () => {
  synced = true;
  run().catch((e) => fail(1, e?.stack ?? String(e)));
});

async function run() {
  switch (command) {
    case "dump":
      return finish(0, JSON.stringify(snapshot()));

    case "write-post": {
      const [postId, author, text] = args;
      let rejected = null;
      closeHandler = (event) => {
        rejected = event ? `${event.code} ${event.reason || ""}`.trim() : "closed";
      };
      const ws = provider.ws;
      ydoc.getMap("posts").set(postId, {
        author: String(author),
        created_at: Date.now(),
        text,
        parent: null,
        attachments: [],
        edited_at: null,
        deleted: false,
      });
      // The provider sends the update synchronously; wait until the socket has flushed it,
      // then give the server a moment to object (by closing the connection).
      while (ws && ws.readyState === WebSocket.OPEN && ws.bufferedAmount > 0) {
        await sleep(10);
      }
      await sleep(SETTLE_MS);
      return finish(0, rejected === null ? "ok" : `rejected ${rejected}`);
    }

    case "wait-post": {
      const [postId, timeoutMs] = args;
      const posts = ydoc.getMap("posts");
      const check = () => {
        if (posts.has(postId)) finish(0, JSON.stringify(posts.get(postId)));
      };
      closeHandler = (event) =>
        fail(2, `connection closed while waiting (${event ? event.code : "locally"})`);
      setTimeout(() => fail(3, `post ${postId} did not appear within ${timeoutMs} ms`), Number(timeoutMs));
      posts.observe(check);
      check();
      return; // check() or a timer ends the process
    }
  }
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
