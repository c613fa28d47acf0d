/**
 * Why a pull failed, from the runtime's own words. containerd (ctr, nerdctl,
 * CRI behind crictl) wraps Go's net/http and crypto/x509 errors, so the same
 * strings appear whichever tool printed them.
 */
export const pullErrorCodes = [
  'X509_UNKNOWN_AUTHORITY',
  'X509_HOSTNAME_MISMATCH',
  'DNS',
  'CONNECTION_REFUSED',
  'UNAUTHORIZED',
  'NOT_FOUND',
  'TIMEOUT',
  'RUNTIME_MISSING',
  'OTHER',
] as const;

export type PullErrorCode = (typeof pullErrorCodes)[number];

// First match wins: the most specific (TLS) before the generic (not found).
const rules: readonly (readonly [PullErrorCode, RegExp])[] = [
  // The client never reached containerd (pull.address): no daemon, or the wrong socket. Before
  // CONNECTION_REFUSED and TIMEOUT, which are about the registry: ctr gives up dialing after
  // 10 s with "context deadline exceeded", crictl says "dial unix ...: connect: ...".
  [
    'RUNTIME_MISSING',
    /failed to dial "[^"]*"|dial unix[: ]|make sure you are running as root and the (?:endpoint|runtime) has been started|cannot access containerd socket/i,
  ],
  ['X509_UNKNOWN_AUTHORITY', /x509: certificate signed by unknown authority|certificate verify failed|unable to get local issuer certificate/i],
  [
    'X509_HOSTNAME_MISMATCH',
    /x509: certificate is (?:valid for .* not|not valid for any names)|x509: cannot validate certificate for .* because it doesn't contain any IP SANs/i,
  ],
  // A resolver that does not answer is a DNS problem too: "lookup h on 10.0.0.10:53: read udp ...: i/o timeout".
  ['DNS', /no such host|server misbehaving|Temporary failure in name resolution|Name or service not known|lookup \S+ on \S+:/i],
  ['CONNECTION_REFUSED', /connection refused/i],
  ['TIMEOUT', /i\/o timeout|TLS handshake timeout|context deadline exceeded|Client\.Timeout exceeded|DeadlineExceeded/i],
  ['UNAUTHORIZED', /401 Unauthorized|403 Forbidden|\bunauthorized\b|authorization failed|pull access denied|denied: requested access/i],
  ['NOT_FOUND', /: not found|manifest unknown|name unknown|404 Not Found|StatusNotFound/i],
];

// containerd logs "trying next host - response was http.StatusNotFound" when a host it
// reached over TLS answered 404. With a hosts.toml whose `server` fallback carries no `ca`,
// the resolver then reports the fallback's x509 error (the FIRST error, resolver.go), which
// would hide the real answer; a 404 from a trusted host proves TLS worked.
const trustedNotFound = /trying next host - response was http\.StatusNotFound/;

/** The final error line: ctr prints `ctr: ...`, crictl/nerdctl a `level=fatal msg="..."` line. */
function finalError(text: string): string {
  const lines = text.split('\n').map((l) => l.trim()).filter((l) => l !== '');
  const last = [...lines].reverse().find((l) => /^(ctr|crictl|nerdctl): |level=fatal|^E\d{4} |^FATA/.test(l));
  return last ?? lines.at(-1) ?? '';
}

/** Classifies a failed pull from its combined output (stderr, then stdout). */
export function classifyPullFailure(output: string): PullErrorCode {
  const final = finalError(output);
  if (/x509/.test(final) && trustedNotFound.test(output) && !/401|403/.test(final)) return 'NOT_FOUND';
  return matchRules(final) ?? matchRules(output) ?? 'OTHER';
}

function matchRules(text: string): PullErrorCode | undefined {
  return rules.find(([, re]) => re.test(text))?.[0];
}

const messageMax = 500;

/** The runtime's message kept for the caller: the final error line, trimmed to 500 characters. */
export function trimRuntimeMessage(output: string): string {
  const final = finalError(output);
  return final.length > messageMax ? `${final.slice(0, messageMax - 1)}…` : final;
}
