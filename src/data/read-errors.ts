/**
 * DuckDB's read errors, condensed. Its CSV errors run to 40 lines (the sniffer's search space, "possible
 * fixes" naming options mlbatch does not have, every parser setting) and go into notifications: a read
 * error here says which file, which line, what is wrong and what to do, in one or two sentences. DuckDB's
 * text stays the error's `cause`.
 */
import { MlbatchError, messageOf } from "../errors.js";

/** What a rule makes of a DuckDB message: where (a line) and what is wrong, and what to do. */
interface Problem {
  readonly line?: number | undefined;
  readonly what: string;
  readonly fix: string;
}

type Rule = readonly [RegExp, (match: RegExpMatchArray, text: string) => Problem];

const CSV_LINE = /CSV Error on Line: (\d+)/;
const FIX_COLUMNS =
  "Give every file the same columns, or check that file's first lines for extra or missing fields.";
const VALUE_CHARS = 40;

/** The first matching rule describes the problem; the order goes from the most to the least specific. */
const RULES: readonly Rule[] = [
  [
    /Error when sniffing file/,
    () => ({
      what:
        "its first lines do not split into rows of one shape with these settings (a row with extra or " +
        "missing fields, or a quote that is not closed)",
      fix: "Fix the file, or set inputs.delimiter, inputs.quote or inputs.escape to the ones it uses.",
    }),
  ],
  [
    /Expected Number of Columns: (\d+) Found: (\d+)/,
    ([, expected, found], text) => ({
      line: csvLine(text),
      what: `has ${found} fields instead of ${expected}`,
      fix: "Fix that line (quote fields that hold the delimiter), or set inputs.delimiter if the file uses another.",
    }),
  ],
  [
    /unterminated quote/,
    (_, text) => ({
      line: csvLine(text),
      what: "has a quoted field that is not closed (or text after its closing quote)",
      fix: "Fix the quotes on that line, or set inputs.quote if that character is not the file's quote.",
    }),
  ],
  [
    /Invalid unicode/,
    (_, text) => ({
      line: csvLine(text),
      what: "is not valid UTF-8 text",
      fix: "Save the file as UTF-8 (e.g. iconv -f latin1 -t utf-8).",
    }),
  ],
  [
    /Error when converting column "(.*)"\. Could not convert string "(.*)" to '(.+?)'/,
    ([, column, value, type], text) => ({
      line: csvLine(text),
      what:
        `has "${shown(value)}" in column "${column}", not a ${type}` +
        (/auto-detected/.test(text) ? " (the type detected from the first rows)" : ""),
      fix: /auto-detected/.test(text)
        ? `Set inputs.types for "${column}" (e.g. VARCHAR), or fix the value.`
        : `Fix the value, or change inputs.types for "${column}".`,
    }),
  ],
  [
    /Maximum line size of (\d+) bytes exceeded/,
    ([, size], text) => ({
      line: csvLine(text),
      what: `is longer than ${size} bytes (often a quote that is never closed)`,
      fix: "Check the quotes on that line and the lines before it.",
    }),
  ],
  [
    /Malformed JSON in file ".*", at byte (\d+) in line (\d+): ([^.\n]*)/,
    // DuckDB counts this line one too many (its JSON reader adds 1 twice), and skips blank lines.
    ([, byte, line, reason]) => ({
      line: Number(line) - 1,
      what: `is not valid JSON (${reason} at byte ${byte})`,
      fix: "Fix that line: each line must be one JSON object.",
    }),
  ],
  [
    /JSON transform error in file ".*", in line (\d+): (.*)/,
    ([, line, reason]) => ({
      line: Number(line),
      what: `has a value that does not fit its column's type (${shown(reason)})`,
      fix: "Fix the value, or set inputs.types for its column.",
    }),
  ],
  [
    /schema mismatch in glob: column "(.*?)" was read from the original file "(.*?)", but could not be found/,
    ([, column, main]) => ({
      what: `its columns differ from those of the first file "${main}" (column "${column}" is missing)`,
      fix: FIX_COLUMNS,
    }),
  ],
  [
    /Schema mismatch between globbed files/,
    (_, text) => {
      const main = /Main file schema: (.+)/.exec(text)?.[1];
      const missing = /Column with name: "(.*)" is missing/.exec(text)?.[1];
      return {
        what:
          `its columns differ from those of the first file "${main}"` +
          (missing === undefined ? "" : ` (column "${missing}" is missing)`),
        fix: FIX_COLUMNS,
      };
    },
  ],
];

/** The decompression of a file DuckDB decompresses (it goes by the name) failed: an IO error. */
const COMPRESSED = [
  { suffix: ".gz", format: "gzip" },
  { suffix: ".zst", format: "zstd" },
] as const;

/**
 * The file a DuckDB read error names (the CSV parser's `file = ...`, the sniffer's or JSON reader's
 * `file "..."`), or the only file read.
 */
export function failedFile(error: unknown, files: readonly string[]): string | undefined {
  const text = messageOf(error);
  const named =
    /^\s*file = (.+)$/m.exec(text) ??
    /(?:sniffing file|in file) "(.+?)"(?:\.|,)/.exec(text) ??
    /^Current file: (.+)$/m.exec(text) ??
    /GZIP stream: (.+)$/m.exec(text);
  return named?.[1] ?? (files.length === 1 ? files[0] : undefined);
}

/**
 * True for DuckDB's CSV errors about a whole file, which name no line: the sniffer gave up, or a file's
 * columns differ from the first file's.
 */
export function namesNoLine(error: unknown): boolean {
  return /Error when sniffing file|schema mismatch/i.test(messageOf(error));
}

/**
 * The `E_READ` for a DuckDB error while reading inputs: which file (when DuckDB names it or only one is
 * read), which line, what is wrong and what to do, in a few hundred characters; DuckDB's text is the
 * `cause`.
 *
 * @param error - what DuckDB threw
 * @param label - the inputs as the user named them (a file, a glob or a folder)
 * @param files - the files read
 * @param line - DuckDB's text for the line the error is about, found after it (see `namesNoLine`)
 * @param lineOffset - lines of the file before the text DuckDB read (a piece of it), added to its line
 */
export function condensedReadError(
  error: unknown,
  label: string,
  files: readonly string[] = [],
  line?: string,
  lineOffset = 0,
): MlbatchError {
  const text = line ?? messageOf(error);
  const file = failedFile(error, files);
  const problem = describe(text, file ?? label);
  const where = file === undefined || file === label ? "" : ` (file "${file}")`;
  const at = problem.line === undefined ? "" : `line ${problem.line + lineOffset} `;
  const message = `cannot read inputs "${label}"${where}: ${at}${problem.what}. ${problem.fix}`;
  return new MlbatchError("E_READ", message, { cause: error });
}

function describe(text: string, file: string): Problem {
  const compressed = COMPRESSED.find((c) => file.endsWith(c.suffix));
  if (compressed !== undefined && /^IO Error:/.test(text)) return damaged(compressed.format, text, file);
  for (const [pattern, problem] of RULES) {
    const match = pattern.exec(text);
    if (match !== null) return problem(match, text);
  }
  return { what: firstLine(text), fix: "Check the file and the inputs settings." };
}

function damaged(format: string, text: string, file: string): Problem {
  return {
    what: `the ${format} data is damaged (${firstLine(text)})`,
    fix: `Check the file (${format} -t ${file}) and copy it again.`,
  };
}

function csvLine(text: string): number | undefined {
  const line = CSV_LINE.exec(text)?.[1];
  return line === undefined ? undefined : Number(line);
}

/** DuckDB's first line without its error class ("Invalid Input Error: "), cut to a notification's size. */
function firstLine(text: string): string {
  const line = (text.split("\n")[0] ?? "").replace(/^[A-Za-z ]*Error: /, "").trim();
  return shown(line.replace(/\.$/, ""), 200);
}

/** A value from the data, cut so that one long field does not fill the message. */
function shown(value: string | undefined, max = VALUE_CHARS): string {
  const text = value ?? "";
  return text.length <= max ? text : `${text.slice(0, max)}...`;
}
