// Types for scripts/outside-tools.mjs (plain ESM, so that the build can run before anything is compiled).
export type OutsideToolName = 'clang' | 'wasm-ld' | 'rustc' | 'cargo' | 'serf' | 'zsh' | 'fish' | 'nats-server' | 'prlimit' | 'ip' | 'openssl' | 'systemd-analyze' | 'chromium';
export declare const OUTSIDE_TOOLS: Readonly<Record<OutsideToolName, { readonly commands: readonly string[]; readonly packages: string; readonly usedFor: string }>>;
export declare function toolsRequired(env?: NodeJS.ProcessEnv): boolean;
export declare function whichAll(cmd: string, env?: NodeJS.ProcessEnv): string[];
export declare function findRustWasm(env?: NodeJS.ProcessEnv): { rustc: string | undefined; cargo: string | undefined; missing: string[] };
export declare function which(cmd: string, env?: NodeJS.ProcessEnv): string | undefined;
export declare function findTool(name: OutsideToolName, env?: NodeJS.ProcessEnv): string | undefined;
export declare function missingToolLine(name: OutsideToolName, missing?: readonly string[]): string;
export declare function requiredToolError(name: OutsideToolName, missing?: readonly string[]): string;
