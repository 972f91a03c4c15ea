// OCI image reference syntax, as github.com/distribution/reference parses it:
//   reference := [domain '/'] path [':' tag] ['@' digest]
//   domain    := host [':' port]   (host: DNS-ish components, or a bracketed IPv6 literal)
//   path      := component ('/' component)*, component := [a-z0-9]+ (([._]|__|-+) [a-z0-9]+)*
//   tag       := [\w][\w.-]{0,127}
// The name (domain + path) is limited to 255 characters, as in distribution; the tag and digest
// are bounded by their own grammar. Digests: sha256 (64 hex) and sha512 (128 hex), the two
// algorithms registered by the OCI image spec.

const DOMAIN_COMPONENT = "(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])";
const DOMAIN_NAME = `${DOMAIN_COMPONENT}(?:\\.${DOMAIN_COMPONENT})*`;
const IPV6 = "\\[(?:[a-fA-F0-9:]+)\\]";
const DOMAIN = `(?:${DOMAIN_NAME}|${IPV6})(?::[0-9]+)?`;
const ALNUM = "[a-z0-9]+";
const SEPARATOR = "(?:[._]|__|[-]+)";
const PATH_COMPONENT = `${ALNUM}(?:${SEPARATOR}${ALNUM})*`;
const PATH = `${PATH_COMPONENT}(?:/${PATH_COMPONENT})*`;
const NAME = new RegExp(`^(?:${DOMAIN}/)?${PATH}$`);
const TAG = /^[\w][\w.-]{0,127}$/;
const DIGEST = /^(?:sha256:[a-f0-9]{64}|sha512:[a-f0-9]{128})$/;

const NAME_MAX = 255;

export function checkImageReference(ref: string): string | undefined {
  if (ref.length === 0) return "must not be empty";
  let rest = ref;
  const at = rest.indexOf("@");
  if (at >= 0) {
    const digest = rest.slice(at + 1);
    if (!DIGEST.test(digest)) {
      return "invalid digest (expected sha256:<64 hex> or sha512:<128 hex>)";
    }
    rest = rest.slice(0, at);
  }
  // A ':' after the last '/' starts the tag; one before it belongs to a registry port.
  const colon = rest.lastIndexOf(":");
  if (colon > rest.lastIndexOf("/")) {
    const tag = rest.slice(colon + 1);
    if (!TAG.test(tag)) return "invalid tag (up to 128 characters of [A-Za-z0-9_.-], not starting with '.' or '-')";
    rest = rest.slice(0, colon);
  }
  if (rest.length > NAME_MAX) {
    return `image name must be at most ${NAME_MAX} characters (got ${rest.length})`;
  }
  if (!NAME.test(rest)) {
    return "invalid image reference: repository path components must be lowercase alphanumerics separated by '.', '_', '__' or '-'";
  }
  return undefined;
}

export function isImageReference(ref: string): boolean {
  return checkImageReference(ref) === undefined;
}
