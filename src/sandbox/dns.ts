// Kubernetes name syntax (apimachinery `validation.IsDNS1123Label` / `IsDNS1123Subdomain` /
// `IsQualifiedName` / `IsValidLabelValue`). Each returns an error message or undefined.

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const QUALIFIED_NAME_PART = /^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

export const DNS1123_LABEL_MESSAGE =
  "must be a DNS-1123 label: use lowercase alphanumeric characters or '-', start and end with an alphanumeric character, and use at most 63 characters";

export function checkDns1123Label(value: string): string | undefined {
  if (value.length > 63 || !DNS1123_LABEL.test(value)) return DNS1123_LABEL_MESSAGE;
  return undefined;
}

export function isDns1123Label(value: string): boolean {
  return checkDns1123Label(value) === undefined;
}

export function checkDns1123Subdomain(value: string): string | undefined {
  const message =
    "must be a DNS-1123 subdomain: dot-separated DNS-1123 labels, at most 253 characters";
  if (value.length === 0 || value.length > 253) return message;
  return value.split(".").every(isDns1123Label) ? undefined : message;
}

/** Label keys and annotation keys: `[prefix/]name`, prefix a DNS-1123 subdomain. */
export function checkQualifiedName(value: string): string | undefined {
  const parts = value.split("/");
  if (parts.length > 2) return "must be a qualified name '[prefix/]name' with at most one '/'";
  const name = parts[parts.length - 1] ?? "";
  if (parts.length === 2) {
    const prefix = parts[0] ?? "";
    if (prefix.length === 0) return "prefix before '/' must not be empty";
    if (checkDns1123Subdomain(prefix)) return "prefix before '/' must be a DNS-1123 subdomain";
  }
  if (name.length === 0 || name.length > 63 || !QUALIFIED_NAME_PART.test(name)) {
    return "name part must be at most 63 alphanumeric characters, '-', '_' or '.', starting and ending with an alphanumeric character";
  }
  return undefined;
}

export function checkLabelValue(value: string): string | undefined {
  if (value.length > 63 || !LABEL_VALUE.test(value)) {
    return "must be at most 63 characters: alphanumerics, '-', '_' or '.', starting and ending with an alphanumeric character (or empty)";
  }
  return undefined;
}
