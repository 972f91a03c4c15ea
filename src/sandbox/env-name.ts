// Environment variable names. Kubernetes itself accepts any printable ASCII except '=' since 1.30
// (RelaxedEnvironmentVariableValidation), but the supervisor hands the environment to a login shell
// (`/bin/bash -l` by default), and POSIX shells silently drop names that are not C identifiers.
// So OpenShell keeps the stricter C-identifier rule: a name a user sets must arrive in the sandbox.

const C_IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

export function checkEnvName(name: string): string | undefined {
  if (name.length === 0) return "environment variable name must not be empty";
  if (name.includes("=")) return "environment variable name must not contain '='";
  if (!C_IDENTIFIER.test(name)) {
    return "environment variable name must be a C identifier: letters, digits and '_', not starting with a digit";
  }
  return undefined;
}
