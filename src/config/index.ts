// The `serve` configuration: the flag table, value parsers and resolution.
export { envVarFor, FLAGS, type Config, type DriverWideSettings, type FlagName, type FlagSpec, type LogFormat, type LogLevel, type ServerConfig } from "./flags";
export { resolveConfig } from "./resolve";
export { ConfigError, parseDuration } from "./value-parsers";
