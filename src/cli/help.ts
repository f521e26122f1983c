/**
 * The help texts (`wsstream --help`, `wsstream <command> --help`).
 */

export const MAIN_HELP = `wsstream: WebSocket from the command line, with backpressure from pipe to pipe

Usage:
  wsstream connect URL [options]     stdin -> messages, messages -> stdout
  wsstream connect URL --listen tcp:[HOST:]PORT   a local port tunnelled to URL
  wsstream serve --port P (--echo | --exec CMD | --broadcast | --forward ADDR)
  wsstream demo                      a live backpressure demonstration (npm start)
  wsstream <command> --help          the options of a command
  wsstream --version

Exit codes: 0 closed normally (1000, 1001, or no code), 1 the connection failed,
was dropped or closed with another code, 2 usage error. How the connection
ended (close code and reason) is written to stderr.
`;

export const CONNECT_HELP = `Usage: wsstream connect URL [options]

Connects to URL (ws:, wss:, http: or https:) and bridges it to stdin and stdout.
Reading is paused while stdout is blocked, and stdin is not read while the
connection cannot take more, so a pipe runs at the speed of its slowest end.

Modes (default: --line when stdin is a terminal, --binary otherwise, but with
a terminal on stdout messages are still written as escaped lines):
  --line                 each line of stdin is a text message; each message is
                         written as a line (escaped on a terminal)
  --binary, --raw        stdin is sent in chunks as binary messages; messages
                         are written to stdout unchanged, with nothing added,
                         even to a terminal (a peer can then drive it)
      --reconnect        when the connection drops (1001 Going Away, a restart,
                         a network failure), reconnect with exponential backoff
                         and jitter (250 ms doubling up to 30 s), saying so on
                         stderr; input waits meanwhile. Not after 1000 or 1002,
                         1003, 1007-1010
  --once                 send stdin, print the first message received, close
  --exit-on-eof          close the connection when stdin ends (the Close goes
                         after everything stdin gave); replies still on their
                         way can be cut short, as the server answers the Close
                         at once. By default the connection stays open after
                         stdin ends, until the server closes or Ctrl-C
  -0, --nul              like --line, with NUL instead of newline between
                         messages (for messages that contain newlines)
  -u, --unidirectional   only stdin -> connection: messages received are
                         dropped, and stdin's end closes the connection
  -U, --unidirectional-reverse  only connection -> stdout: stdin is not read

Tunnel (instead of stdin and stdout):
      --listen ADDR      listen on ADDR (tcp:[HOST:]PORT, HOST default
                         127.0.0.1, or unix:PATH); each connection there gets
                         its own WebSocket connection to URL, bytes both ways as
                         binary messages (see serve --forward). Runs until Ctrl-C
      --max-connections N  (--listen) most connections tunnelled at once
                         (default 64); one more is closed as soon as it is
                         accepted, and a line on stderr says the limit was hit

Options:
  -H, --header "N: V"    extra request header (repeatable)
      --basic-auth USER:PASS  Authorization: Basic header (HTTP basic auth)
  -s, --subprotocol P    subprotocol to offer (repeatable, in order of preference)
      --origin ORIGIN    Origin header
  -k, --insecure         do not verify the server's TLS certificate
      --ca FILE          trusted CA certificates (PEM) instead of the default list
      --cert FILE        client certificate (PEM) for mutual TLS
      --key FILE         private key of --cert (PEM)
      --max-message-size SIZE  largest message accepted (default 64M); larger
                         ones close the connection with 1009
      --ping-interval DURATION  send a Ping after this much silence and drop
                         the connection if nothing comes back (default off)
      --handshake-timeout DURATION  give up connecting after this (default 30s)
      --proxy URL        tunnel through this HTTP proxy (http://[user:pass@]host:port);
                         by default HTTPS_PROXY (wss:) / HTTP_PROXY (ws:) and
                         NO_PROXY are followed, lowercase names first
      --no-proxy         connect directly, whatever the environment says
      --unix PATH        connect to this Unix domain socket (the URL still gives
                         the Host header and the path)
      --no-batch-writes  a write counts as done only once the operating system
                         took it (one system call per message); by default short
                         messages of one turn of the event loop leave in one
                         system call, two to three times as fast (--batch-writes)
      --no-deflate       do not offer permessage-deflate compression (offered by
                         default; the agreed extension is shown on connecting)
  -h, --help             this help

SIZE: bytes, or with k, M, G (powers of 1024). DURATION: seconds, or with ms, s, m.

Ctrl-C closes the connection with 1000; a second Ctrl-C exits at once (130).

Examples:
  wsstream connect wss://echo.example/                 interactive, one line a message
  cat big.bin | wsstream connect --binary --exit-on-eof ws://host/upload
  echo '{"op":"ping"}' | wsstream connect --line --once ws://host/api
  wsstream connect -H "Authorization: Bearer $T" -s chat.v2 wss://host/chat
  ssh -o ProxyCommand='wsstream connect --binary wss://host/ssh' user@host
  wsstream connect wss://host/db --listen tcp:5433     then: psql -h 127.0.0.1 -p 5433
`;

export const SERVE_HELP = `Usage: wsstream serve --port P [--host H] (--echo | --exec CMD | --broadcast
                      | --forward ADDR) [options]

Behaviours (exactly one):
  --echo                 send every message back to its sender
  --exec CMD             run CMD (with /bin/sh -c) for every connection: messages
                         go to its stdin, its stdout comes back as messages, and
                         its exit closes the connection (status 0: 1000; status N:
                         4000+N; killed by signal S: 4128+S). The connection's
                         closing ends its stdin; 2s later its process group
                         gets SIGTERM, then SIGKILL (see --kill-after).
                         Backpressure both ways.
  --broadcast            relay every message to every other client of the same
                         request path (the path is the room)
  --forward ADDR         connect every client to ADDR (tcp:HOST:PORT or
                         unix:PATH), bytes both ways as binary messages, with
                         backpressure both ways. The target's FIN closes with
                         1000 (after its bytes); the client's Close ends the
                         target's connection. An unreachable target closes with
                         4502, a reset or failed one with 4500. ADDR is fixed
                         here: clients cannot choose it

Options:
  -p, --port P           port to listen on (0 picks a free one)
      --host H           address to listen on (default 127.0.0.1)
      --line             (--exec) each line of output is a text message, each
                         message is written to stdin as a line
      --binary           (--exec) bytes unchanged both ways (the default); output
                         chunks are sent as binary messages
      --kill-after DURATION  (--exec) SIGKILL a command's process group this
                         long after its SIGTERM if it still runs (default 5s;
                         e.g. 500ms, 30s, 2m); also when wsstream is stopped
      --max-queue SIZE   (--broadcast) most bytes queued for one client
                         (default 1M); see --slow
      --slow POLICY      (--broadcast) what happens to a client whose queue is
                         full: "close" (default) closes it with 4008, "drop"
                         skips the messages it cannot take
      --redis URL        (--broadcast) join the rooms of every process using this
                         Redis (redis://host:port; needs npm's redis package)
      --redis-cluster URL,URL...  (--broadcast) the same through a Redis 7
                         Cluster with sharded pub/sub (SSUBSCRIBE/SPUBLISH): a
                         room's messages stay in the shard that owns it; the
                         URLs are some of its nodes (redis://host:port)
      --workers N        run N processes on the port (node:cluster); --broadcast
                         without --redis(-cluster) is relayed by the primary
      --max-connections N  most clients at once, counting those still connecting
                         (default 64; per process with --workers); one more is
                         answered 503 Service Unavailable, the others carry on,
                         and a line on stderr says the limit was hit. With
                         --exec a client's slot is held until it has left
                         and its command has exited
  -s, --subprotocol P    subprotocol this server speaks (repeatable)
      --cert FILE        TLS certificate (PEM): serve wss: (needs --key)
      --key FILE         TLS private key (PEM)
      --max-message-size SIZE  largest message accepted (default 64M)
      --ping-interval DURATION  keepalive pings (default off)
      --no-batch-writes  one system call per message; a write counts as done only
                         once the operating system took it (see connect --help)
      --no-deflate       refuse permessage-deflate (accepted by default with
                         window bits 12; the connection log shows what was agreed)
  -q, --quiet            no connection log on stderr
  -h, --help             this help

The listening URL is written to stderr. SIGINT, SIGTERM or SIGHUP close every
connection with 1001, stop the --exec commands (SIGTERM, SIGKILL after
--kill-after), let the --forward targets take what was received, and exit 0.
A second signal ends it all at once (SIGKILL, RST) and exits 130.

Examples:
  wsstream serve --port 8080 --echo
  wsstream serve --port 8080 --exec 'stdbuf -oL tr a-z A-Z' --line
  wsstream serve --port 8443 --broadcast --cert cert.pem --key key.pem
  wsstream serve --port 8080 --host 0.0.0.0 --forward tcp:127.0.0.1:22
`;

export const DEMO_HELP = `Usage: wsstream demo [--slow-mb N] [--fast-mb N]

Starts a server on 127.0.0.1 (a free port) and a client in this process, and
streams data through a deliberately slow consumer, then through a fast one,
with a live line of bytes sent, messages/s, bytes held in user space and RSS.
Memory stays flat because the sender is held back by TCP, not buffered.

Options:
      --slow-mb N        MiB through the slow consumer (default 256)
      --fast-mb N        MiB through the fast consumer (default 512)
  -h, --help             this help
`;
