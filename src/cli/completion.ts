/**
 * Shell completion scripts for bash, zsh and fish, generated from the commander tree: every command
 * and alias, every option (with its choices, and files or directories where it takes a path), and
 * agent names where a command takes one (from the hidden `caxton __agents`, which asks the API).
 */
import { Argument, type Command, Help, type Option } from 'commander';
import type { AgentList } from './api-types.js';
import { context } from './context.js';
import { stdout } from './output.js';

export const SHELLS = ['bash', 'zsh', 'fish'] as const;
export type Shell = (typeof SHELLS)[number];

type ValueKind = 'file' | 'dir' | 'agent' | 'choice' | 'text';

interface OptSpec {
  short: string | undefined;
  long: string | undefined;
  takesValue: boolean;
  kind: ValueKind;
  choices: readonly string[];
  description: string;
}

interface ArgSpec {
  name: string;
  kind: ValueKind;
  choices: readonly string[];
}

export interface CmdSpec {
  /** `caxton`, `caxton agent`, `caxton agent list`: the path by canonical names. */
  path: string;
  names: string[];
  description: string;
  children: CmdSpec[];
  options: OptSpec[];
  args: ArgSpec[];
}

const help = new Help();

/** The visible command tree, from the program down. */
export function commandSpec(cmd: Command, parentPath = ''): CmdSpec {
  const path = parentPath === '' ? cmd.name() : `${parentPath} ${cmd.name()}`;
  const group = parentPath === '' ? '' : path.split(' ')[1] ?? '';
  return {
    path,
    names: [cmd.name(), ...cmd.aliases()],
    description: firstLine(cmd.description()),
    children: help.visibleCommands(cmd).filter((c) => c.name() !== 'help').map((c) => commandSpec(c, path)),
    options: help.visibleOptions(cmd).map(optionSpec),
    args: cmd.registeredArguments.map((a) => argSpec(a, group)),
  };
}

function optionSpec(o: Option): OptSpec {
  const takesValue = o.required || o.optional;
  const choices = o.argChoices ?? [];
  const valueName = /<([^>]+)>|\[([^\]]+)\]/.exec(o.flags);
  const v = (valueName?.[1] ?? valueName?.[2] ?? '').toLowerCase();
  let kind: ValueKind = 'text';
  if (choices.length > 0) kind = 'choice';
  else if (o.long === '--agent' || o.long === '--to') kind = 'agent';
  else if (v === 'dir') kind = 'dir';
  else if (v.includes('file')) kind = 'file';
  return { short: o.short, long: o.long, takesValue, kind: takesValue ? kind : 'text', choices, description: firstLine(o.description) };
}

function argSpec(a: Argument, group: string): ArgSpec {
  const choices = a.argChoices ?? [];
  const n = a.name();
  const kind: ValueKind = choices.length > 0 ? 'choice' : n.includes('file') ? 'file' : n === 'dir' ? 'dir' : n === 'name' && group === 'agent' ? 'agent' : 'text';
  return { name: n, kind, choices };
}

function firstLine(text: string): string {
  return (text.split('\n')[0] ?? '').trim();
}

function all(spec: CmdSpec): CmdSpec[] {
  return [spec, ...spec.children.flatMap(all)];
}

function flags(o: OptSpec): string[] {
  return [o.short, o.long].filter((f): f is string => f !== undefined);
}

/** Single-quoted for sh, zsh and fish ('\'' closes, escapes and reopens). */
function q(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** fish single quotes escape ' and \ with a backslash instead. */
function fq(s: string): string {
  return `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

export function completionScript(program: Command, shell: Shell): string {
  const spec = commandSpec(program);
  switch (shell) {
    case 'bash':
      return bashScript(spec);
    case 'zsh':
      return zshScript(spec);
    case 'fish':
      return fishScript(spec);
  }
}

/** Shell functions shared by bash and zsh: the command path of a word, and which options take a value. */
function shFunctions(spec: CmdSpec, bin: string): string {
  const childCases: string[] = [];
  const valueCases: string[] = [];
  for (const c of all(spec)) {
    for (const child of c.children) childCases.push(`    ${child.names.map((n) => q(`${c.path}|${n}`)).join('|')}) echo ${q(child.path)} ;;`);
    const withValue = c.options.filter((o) => o.takesValue).flatMap((o) => flags(o).map((f) => q(`${c.path}|${f}`)));
    if (withValue.length > 0) valueCases.push(`    ${withValue.join('|')}) return 0 ;;`);
  }
  return `_${bin}_child() {
  case "$1|$2" in
${childCases.join('\n')}
  esac
}

_${bin}_takes_value() {
  case "$1|$2" in
${valueCases.join('\n')}
  esac
  return 1
}

# Sets cpath (the command path) and npos (positional arguments after it) from the words before the cursor.
_${bin}_walk() {
  local w next skip=0 i
  cpath=${q(spec.path)}
  npos=0
  for ((i = $1; i < $2; i++)); do
    w="\${_${bin}_words[i]}"
    if [[ $skip == 1 ]]; then skip=0; continue; fi
    case "$w" in
      --*=*) continue ;;
      -*) if _${bin}_takes_value "$cpath" "$w"; then skip=1; fi; continue ;;
    esac
    next="$(_${bin}_child "$cpath" "$w")"
    if [[ -n "$next" ]]; then cpath="$next"; npos=0; else npos=$((npos + 1)); fi
  done
}
`;
}

function bashScript(spec: CmdSpec): string {
  const bin = spec.path;
  const valueCases: string[] = [];
  const optionCases: string[] = [];
  const wordCases: string[] = [];
  const argCases: string[] = [];
  const complete = (kind: ValueKind, choices: readonly string[]): string => {
    switch (kind) {
      case 'choice':
        return `COMPREPLY=( $(compgen -W ${q(choices.join(' '))} -- "$cur") )`;
      case 'file':
        return 'COMPREPLY=( $(compgen -f -- "$cur") )';
      case 'dir':
        return 'COMPREPLY=( $(compgen -d -- "$cur") )';
      case 'agent':
        return `COMPREPLY=( $(compgen -W "$(${bin} __agents 2>/dev/null)" -- "$cur") )`;
      case 'text':
        return 'COMPREPLY=()';
    }
  };
  for (const c of all(spec)) {
    for (const o of c.options.filter((x) => x.takesValue)) {
      valueCases.push(`    ${flags(o).map((f) => q(`${c.path}|${f}`)).join('|')}) ${complete(o.kind, o.choices)}; return ;;`);
    }
    optionCases.push(`    ${q(c.path)}) opts=${q(c.options.flatMap(flags).join(' '))} ;;`);
    if (c.children.length > 0) wordCases.push(`    ${q(c.path)}) COMPREPLY=( $(compgen -W ${q(c.children.flatMap((x) => x.names).join(' '))} -- "$cur") ); return ;;`);
    c.args.forEach((a, i) => {
      if (a.kind !== 'text') argCases.push(`    ${q(`${c.path}|${i}`)}) ${complete(a.kind, a.choices)}; return ;;`);
    });
  }
  return `# bash completion for ${bin}, generated by \`${bin} completion bash\` from its command tree.
# Install: ${bin} completion bash > ~/.local/share/bash-completion/completions/${bin}
#      or: echo 'source <(${bin} completion bash)' >> ~/.bashrc

${shFunctions(spec, bin)}
_${bin}_complete() {
  local cur prev cpath npos opts
  local -a _${bin}_words=("\${COMP_WORDS[@]}")
  COMPREPLY=()
  cur="\${COMP_WORDS[COMP_CWORD]}"
  prev="\${COMP_WORDS[COMP_CWORD-1]}"
  _${bin}_walk 1 "$COMP_CWORD"
  if _${bin}_takes_value "$cpath" "$prev"; then
    case "$cpath|$prev" in
${valueCases.join('\n')}
    esac
    return
  fi
  if [[ "$cur" == -* ]]; then
    case "$cpath" in
${optionCases.join('\n')}
    esac
    COMPREPLY=( $(compgen -W "$opts" -- "$cur") )
    return
  fi
  case "$cpath" in
${wordCases.join('\n')}
  esac
  case "$cpath|$npos" in
${argCases.join('\n')}
  esac
}

complete -o filenames -F _${bin}_complete ${bin}
`;
}

function zshScript(spec: CmdSpec): string {
  const bin = spec.path;
  const zdesc = (name: string, d: string) => q(`${name.replace(/:/g, '\\:')}:${d}`);
  const complete = (kind: ValueKind, choices: readonly string[]): string => {
    switch (kind) {
      case 'choice':
        return `compadd -- ${choices.map(q).join(' ')}`;
      case 'file':
        return '_files';
      case 'dir':
        return '_files -/';
      case 'agent':
        return `compadd -- \${(f)"$(${bin} __agents 2>/dev/null)"}`;
      case 'text':
        return ':';
    }
  };
  const valueCases: string[] = [];
  const optionCases: string[] = [];
  const wordCases: string[] = [];
  const argCases: string[] = [];
  for (const c of all(spec)) {
    for (const o of c.options.filter((x) => x.takesValue)) {
      valueCases.push(`    ${flags(o).map((f) => q(`${c.path}|${f}`)).join('|')}) ${complete(o.kind, o.choices)}; return ;;`);
    }
    optionCases.push(`    ${q(c.path)}) items=(${c.options.flatMap((o) => flags(o).map((f) => zdesc(f, o.description))).join(' ')}) ;;`);
    if (c.children.length > 0) {
      wordCases.push(`    ${q(c.path)}) items=(${c.children.flatMap((x) => x.names.map((n) => zdesc(n, x.description))).join(' ')}); _describe -t commands 'command' items; return ;;`);
    }
    c.args.forEach((a, i) => {
      if (a.kind !== 'text') argCases.push(`    ${q(`${c.path}|${i}`)}) ${complete(a.kind, a.choices)}; return ;;`);
    });
  }
  return `#compdef ${bin}
# zsh completion for ${bin}, generated by \`${bin} completion zsh\` from its command tree.
# Install: ${bin} completion zsh > "\${fpath[1]}/_${bin}"   (then restart zsh)
#      or: echo 'source <(${bin} completion zsh)' >> ~/.zshrc   (after compinit)

${shFunctions(spec, bin)}
_${bin}() {
  local cur prev cpath npos
  local -a items _${bin}_words
  _${bin}_words=("\${(@)words}")
  cur="\${words[CURRENT]}"
  prev="\${words[CURRENT-1]}"
  _${bin}_walk 2 "$CURRENT"
  if _${bin}_takes_value "$cpath" "$prev"; then
    case "$cpath|$prev" in
${valueCases.join('\n')}
    esac
    return
  fi
  if [[ "$cur" == -* ]]; then
    case "$cpath" in
${optionCases.join('\n')}
    esac
    _describe -t options 'option' items
    return
  fi
  case "$cpath" in
${wordCases.join('\n')}
  esac
  case "$cpath|$npos" in
${argCases.join('\n')}
  esac
}

if [[ "\${zsh_eval_context[-1]}" == loadautoload ]]; then
  _${bin} "$@"
else
  compdef _${bin} ${bin}
fi
`;
}

function fishScript(spec: CmdSpec): string {
  const bin = spec.path;
  const childCases: string[] = [];
  const valueCases: string[] = [];
  const lines: string[] = [];
  for (const c of all(spec)) {
    for (const child of c.children) childCases.push(`        case ${child.names.map((n) => fq(`${c.path}|${n}`)).join(' ')}\n            echo ${fq(child.path)}`);
    const withValue = c.options.filter((o) => o.takesValue).flatMap((o) => flags(o).map((f) => fq(`${c.path}|${f}`)));
    if (withValue.length > 0) valueCases.push(`        case ${withValue.join(' ')}\n            return 0`);
    const cond = `-n ${fq(`__${bin}_path_is ${fq(c.path)}`)}`;
    for (const child of c.children) {
      for (const n of child.names) lines.push(`complete -c ${bin} ${cond} -a ${fq(n)} -d ${fq(child.description)}`);
    }
    for (const o of c.options) {
      let line = `complete -c ${bin} ${cond}`;
      if (o.short !== undefined) line += ` -s ${o.short.replace(/^-/, '')}`;
      if (o.long !== undefined) line += ` -l ${o.long.replace(/^--/, '')}`;
      if (o.takesValue) {
        if (o.kind === 'choice') line += ` -x -a ${fq(o.choices.join(' '))}`;
        else if (o.kind === 'agent') line += ` -x -a ${fq(`(${bin} __agents 2>/dev/null)`)}`;
        else if (o.kind === 'file' || o.kind === 'dir') line += ' -r -F';
        else line += ' -x';
      }
      lines.push(`${line} -d ${fq(o.description)}`);
    }
    c.args.forEach((a, i) => {
      const argCond = `-n ${fq(`__${bin}_path_is ${fq(c.path)} ${i}`)}`;
      if (a.kind === 'choice') lines.push(`complete -c ${bin} ${argCond} -a ${fq(a.choices.join(' '))}`);
      else if (a.kind === 'agent') lines.push(`complete -c ${bin} ${argCond} -a ${fq(`(${bin} __agents 2>/dev/null)`)}`);
      else if (a.kind === 'file') lines.push(`complete -c ${bin} ${argCond} -F`);
      else if (a.kind === 'dir') lines.push(`complete -c ${bin} ${argCond} -a ${fq('(__fish_complete_directories)')}`);
    });
  }
  return `# fish completion for ${bin}, generated by \`${bin} completion fish\` from its command tree.
# Install: ${bin} completion fish > ~/.config/fish/completions/${bin}.fish

function __${bin}_child
    switch "$argv[1]|$argv[2]"
${childCases.join('\n')}
    end
    return 1
end

function __${bin}_takes_value
    switch "$argv[1]|$argv[2]"
${valueCases.join('\n')}
    end
    return 1
end

# True when the words before the cursor name command path $argv[1] (and, with $argv[2], that many positionals follow it).
function __${bin}_path_is
    set -l tokens (commandline -opc)
    set -l cpath ${fq(spec.path)}
    set -l npos 0
    set -l skip 0
    for w in $tokens[2..-1]
        if test $skip = 1
            set skip 0
            continue
        end
        if string match -q -- '--*=*' $w
            continue
        else if string match -q -- '-*' $w
            __${bin}_takes_value $cpath $w; and set skip 1
            continue
        end
        set -l next (__${bin}_child $cpath $w)
        if test -n "$next"
            set cpath $next
            set npos 0
        else
            set npos (math $npos + 1)
        end
    end
    test "$cpath" = "$argv[1]"; or return 1
    if set -q argv[2]
        test "$npos" = "$argv[2]"; or return 1
    end
    return 0
end

complete -c ${bin} -f
${lines.join('\n')}
`;
}

/** `caxton completion <shell>` and the hidden `caxton __agents` the scripts call for agent names. */
export function registerCompletion(program: Command): { completion: Command; agents: Command } {
  const completion = program
    .command('completion')
    .description('print a shell completion script (bash, zsh or fish); see docs/cli.md to install it')
    .addArgument(new Argument('<shell>', 'bash, zsh or fish').choices(SHELLS))
    .action((shell: Shell) => {
      stdout.write(completionScript(program, shell));
    });
  const agents = program
    .command('__agents', { hidden: true })
    .description('agent names, one a line (for completion scripts)')
    .action(async (_opts: unknown, cmd: Command) => {
      try {
        const list = await context(cmd).client.get<AgentList>('/agents', undefined, { timeoutMs: 3000 });
        stdout.write(list.agents.map((a) => `${a.name}\n`).join(''));
      } catch {
        /* no names to offer: completion just offers none */
      }
    });
  return { completion, agents };
}
