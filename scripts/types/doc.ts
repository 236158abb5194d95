/**
 * A small line-fitting document printer, so the generated file comes out laid out the way
 * `supabase gen types typescript` lays it out (postgres-meta runs its output through prettier with
 * `semi: false` and the defaults: 80 columns, 2 spaces, double quotes, trailing commas).
 *
 * The model is the classic one (Wadler's "prettier printer", as prettier implements it): a
 * document is text, concatenations, groups, indentation and line breaks. A group is printed on one
 * line when it fits in the rest of the line, otherwise its line breaks become newlines. A group
 * that contains a hard line break, or is marked `shouldBreak`, always breaks, and so do the
 * groups around it.
 */

export type Doc = string | Doc[] | Group | Indent | Align | Line | IfBreak;

interface Group {
  kind: 'group';
  contents: Doc;
  shouldBreak: boolean;
}
interface Indent {
  kind: 'indent';
  contents: Doc;
}
interface Align {
  kind: 'align';
  width: number;
  contents: Doc;
}
interface Line {
  kind: 'line';
  /** soft: nothing when flat; otherwise a space when flat. */
  soft: boolean;
  hard: boolean;
}
interface IfBreak {
  kind: 'ifBreak';
  breakContents: Doc;
  flatContents: Doc;
}

export const line: Line = { kind: 'line', soft: false, hard: false };
export const softline: Line = { kind: 'line', soft: true, hard: false };
export const hardline: Line = { kind: 'line', soft: false, hard: true };

export const group = (contents: Doc, shouldBreak = false): Group => ({ kind: 'group', contents, shouldBreak });
export const indent = (contents: Doc): Indent => ({ kind: 'indent', contents });
export const align = (width: number, contents: Doc): Align => ({ kind: 'align', width, contents });
export const ifBreak = (breakContents: Doc, flatContents: Doc = ''): IfBreak => ({
  kind: 'ifBreak',
  breakContents,
  flatContents,
});

export function join(separator: Doc, docs: Doc[]): Doc[] {
  const out: Doc[] = [];
  docs.forEach((doc, i) => {
    if (i > 0) out.push(separator);
    out.push(doc);
  });
  return out;
}

/** Marks every group that contains a hard line (directly or in a nested group) as broken. */
function propagateBreaks(doc: Doc): boolean {
  if (typeof doc === 'string') return false;
  if (Array.isArray(doc)) {
    let found = false;
    for (const part of doc) found = propagateBreaks(part) || found;
    return found;
  }
  switch (doc.kind) {
    case 'line':
      return doc.hard;
    case 'group': {
      const inner = propagateBreaks(doc.contents);
      if (inner) doc.shouldBreak = true;
      return doc.shouldBreak;
    }
    case 'indent':
    case 'align':
      return propagateBreaks(doc.contents);
    case 'ifBreak':
      return propagateBreaks(doc.breakContents) || propagateBreaks(doc.flatContents);
  }
}

type Mode = 'break' | 'flat';
interface Command {
  indent: number;
  mode: Mode;
  doc: Doc;
}

/**
 * Whether `next` fits in `width` columns. Once `next` is used up, the commands still waiting
 * (`rest`, in their own mode) are measured too, up to their first possible line break, as
 * prettier does: text that must follow on the same line counts against the group.
 */
function fits(next: Command, rest: Command[], width: number): boolean {
  let remaining = width;
  let restIndex = rest.length;
  const stack: { mode: Mode; doc: Doc }[] = [{ mode: next.mode, doc: next.doc }];
  while (remaining >= 0) {
    let item = stack.pop();
    if (!item) {
      if (restIndex === 0) return true;
      const command = rest[--restIndex] as Command;
      item = { mode: command.mode, doc: command.doc };
    }
    const { mode, doc } = item;
    if (typeof doc === 'string') {
      remaining -= doc.length;
      continue;
    }
    if (Array.isArray(doc)) {
      for (let i = doc.length - 1; i >= 0; i--) stack.push({ mode, doc: doc[i] as Doc });
      continue;
    }
    switch (doc.kind) {
      case 'indent':
      case 'align':
        stack.push({ mode, doc: doc.contents });
        break;
      case 'group':
        stack.push({ mode: doc.shouldBreak ? 'break' : mode, doc: doc.contents });
        break;
      case 'ifBreak':
        stack.push({ mode, doc: mode === 'break' ? doc.breakContents : doc.flatContents });
        break;
      case 'line':
        if (mode === 'break' || doc.hard) return true;
        if (!doc.soft) remaining -= 1;
        break;
    }
  }
  return false;
}

export function print(doc: Doc, width = 80): string {
  propagateBreaks(doc);
  const out: string[] = [];
  let column = 0;
  const commands: Command[] = [{ indent: 0, mode: 'break', doc }];
  while (commands.length > 0) {
    const command = commands.pop() as Command;
    const { indent: ind, mode, doc: current } = command;
    if (typeof current === 'string') {
      out.push(current);
      column += current.length;
      continue;
    }
    if (Array.isArray(current)) {
      for (let i = current.length - 1; i >= 0; i--) commands.push({ indent: ind, mode, doc: current[i] as Doc });
      continue;
    }
    switch (current.kind) {
      case 'indent':
        commands.push({ indent: ind + 2, mode, doc: current.contents });
        break;
      case 'align':
        commands.push({ indent: ind + current.width, mode, doc: current.contents });
        break;
      case 'group': {
        if (mode === 'flat' && !current.shouldBreak) {
          commands.push({ indent: ind, mode: 'flat', doc: current.contents });
          break;
        }
        const flat: Command = { indent: ind, mode: 'flat', doc: current.contents };
        const chosen = !current.shouldBreak && fits(flat, commands, width - column) ? 'flat' : 'break';
        commands.push({ indent: ind, mode: chosen, doc: current.contents });
        break;
      }
      case 'ifBreak':
        commands.push({ indent: ind, mode, doc: mode === 'break' ? current.breakContents : current.flatContents });
        break;
      case 'line':
        if (mode === 'flat' && !current.hard) {
          if (!current.soft) {
            out.push(' ');
            column += 1;
          }
          break;
        }
        // A newline: drop trailing spaces first, as prettier does.
        while (out.length > 0 && / +$/.test(out[out.length - 1] as string)) {
          const trimmed = (out[out.length - 1] as string).replace(/ +$/, '');
          if (trimmed === '') out.pop();
          else {
            out[out.length - 1] = trimmed;
            break;
          }
        }
        out.push('\n' + ' '.repeat(ind));
        column = ind;
        break;
    }
  }
  return out.join('');
}
