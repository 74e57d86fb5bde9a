// Secrets are never shown or stored in clear. The rule, in one place:
// - a name is secret when one of its words (split at anything but letters and digits, and
//   where a lower-case letter or digit meets an upper-case one: apiToken, api_key, X-Api-Key)
//   is in SECRET_WORDS, or ends in one of SECRET_ENDINGS (dbpassword, authtoken), or is a
//   short secret word after a system's name (dbpass, pgpass, sshkey); digits at a word's
//   end do not count (apikey2);
// - in a URL, the userinfo's password is masked (`user:***@`), the user is kept; the
//   password is known as written and percent-decoded, so a message quoting it decoded is masked too;
// - in a URL's query, and in `name=value` pairs of any text (libpq's `host=h password=p`),
//   the value of a secret name is masked;
// - a run argument whose name is secret is masked whole (see run-args.ts for `env:`).
// The run's key (--key) is not a run argument: it is never masked.

/** What a secret is shown as. */
export const MASK = '***'

/** Words that make a name secret (see the rule above); `key` masks `apiKey`, and also `primaryKey`: rather too much than too little. */
const SECRET_WORDS = new Set([
  'password',
  'passwd',
  'pass',
  'pwd',
  'pw',
  'passphrase',
  'secret',
  'token',
  'key',
  'apikey',
  'accesskey',
  'secretkey',
  'privatekey',
  'privkey',
  'sslkey',
  'cookie',
  'credential',
  'credentials',
  'auth',
  'authorization',
  'signature',
  'sig',
])
const SECRET_ENDINGS = ['password', 'passwd', 'secret', 'token']
/** Short secret words, secret after one of SECRET_PREFIXES (`dbpass`), not after any letters (`compass`, `monkey`). */
const SHORT_SECRETS = ['pass', 'pwd', 'pw', 'key']
const SECRET_PREFIXES = new Set(
  ['db', 'pg', 'sql', 'mysql', 'redis', 'mongo', 'api', 'app', 'admin', 'root', 'user', 'smtp', 'mail', 'ssh', 'ssl', 'tls'].concat([
    'aws',
    'gcp',
    'gh',
    'git',
    'access',
    'private',
    'master',
    'service',
    'client',
    'enc',
    'sign',
    'hmac',
    'jwt',
    'license',
    'bot',
  ]),
)

function isSecretWord(word: string): boolean {
  if (SECRET_WORDS.has(word) || SECRET_ENDINGS.some((end) => word.endsWith(end))) return true
  return SHORT_SECRETS.some((short) => word.endsWith(short) && SECRET_PREFIXES.has(word.slice(0, -short.length)))
}

/** True when `name` (a run argument, a URL query parameter) names a secret. */
export function isSecretName(name: string): boolean {
  const words = name
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .toLowerCase()
    .split(/[^a-z0-9]+/)
  return words.some((word) => isSecretWord(word.replace(/\d+$/, '')))
}

/**
 * A URL's scheme and user, then its password up to the last `@` of the authority (a raw
 * `@` in a password is common). Quotes and brackets end a URL: messages quote them. A
 * scheme starts where its run of scheme characters does (the lookbehind): tried from each
 * letter of a long word, the search was quadratic, and a line of 200,000 letters (a slave's
 * host name) held the master for a minute.
 */
const URL_PASSWORD = /(?<![a-z0-9+.-])([a-z][a-z0-9+.-]*:\/\/[^\s/?#'"<>`:@]*):([^\s/?#'"<>`]*)@/gi
/** A `name=value` pair at the start, after a space or in a query; the value ends at a separator or a quote. */
const PAIR = /(^|[\s?&;])([A-Za-z0-9_.-]+)=([^\s&;#'"<>`]+)/g

/**
 * `text` with its secrets masked: URLs' passwords and the values of secret-named
 * `name=value` pairs (query parameters, libpq keywords). Idempotent. Each masked value is
 * pushed to `found`, for {@link hideSecrets}.
 */
export function redactText(text: string, found?: string[]): string {
  return text
    .replace(URL_PASSWORD, (all, head: string, password: string) => {
      if (password === MASK || password === '') return all
      found?.push(password)
      const decoded = percentDecoded(password)
      if (decoded !== password) found?.push(decoded)
      return `${head}:${MASK}@`
    })
    .replace(PAIR, (all, before: string, name: string, value: string) => {
      // Already masked, maybe followed by a message's punctuation (`password=***: refused`).
      if (value.startsWith(MASK) || !isSecretName(name)) return all
      found?.push(value)
      return `${before}${name}=${MASK}`
    })
}

/** A URL's password as the server gets it (`Pa%40ss` is `Pa@ss`); as written when it is no valid encoding. */
function percentDecoded(password: string): string {
  try {
    return decodeURIComponent(password)
  } catch {
    return password
  }
}

/** Known secrets shorter than this are not searched for in free text: they would mask ordinary words. */
export const MIN_HIDDEN_LENGTH = 6

/**
 * A function that masks, in a line of free text (a log line, an error), every occurrence of
 * the known `secrets` (each at least {@link MIN_HIDDEN_LENGTH} long; a user's error message
 * may quote an argument's value), then what {@link redactText} masks.
 */
export function hideSecrets(secrets: readonly string[]): (text: string) => string {
  const known = [...new Set(secrets.filter((s) => s.length >= MIN_HIDDEN_LENGTH))].sort((a, b) => b.length - a.length)
  return (text) => {
    let out = text
    for (const secret of known) if (out.includes(secret)) out = out.split(secret).join(MASK)
    return redactText(out)
  }
}

/** Masks `hide`'s secrets in `error`'s message (and stack, which repeats it) before it is printed; returns it. */
export function hideInError<E>(error: E, hide: (text: string) => string): E {
  if (error instanceof Error) {
    error.message = hide(error.message)
    if (error.stack !== undefined) error.stack = hide(error.stack)
  }
  return error
}
