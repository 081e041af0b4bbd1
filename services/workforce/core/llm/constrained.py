"""JSON-schema constrained decoding for the embedded model, always finished within a token budget.

lm-format-enforcer's `JsonSchemaParser` + `TokenEnforcer` decide which tokens keep the output a valid
prefix of a document matching the schema. (Its own transformers integration does not import under
transformers 5, so the tokenizer data and the logits processor are built here from the library's core.)

A valid prefix is not enough: a model, a small or random one above all, can keep writing a valid prefix
until max_new_tokens runs out, and a cut-off document is invalid. So before accepting a token the
processor checks that what would be written after it can still be completed within the tokens left:
`completion()` walks the parser greedily to a finished document (close the string, fill a missing
required field with its shortest value, close arrays and objects) using one single-character token per
character at worst, tokenized longest-match. When no likely candidate passes, the processor writes that
completion itself. Generation therefore always ends with a complete document, whatever the schema's
string and array bounds.
"""

import gc
from dataclasses import dataclass

import torch
from lmformatenforcer import JsonSchemaParser
from lmformatenforcer.characterlevelparser import (
    CharacterLevelParser, CharacterLevelParserConfig, ForceStopParser,
)
from lmformatenforcer.consts import WHITESPACE_CHARACTERS
from lmformatenforcer.tokenenforcer import TokenEnforcer, TokenEnforcerTokenizerData
from transformers import LogitsProcessor

# Greedy completion: closers first, then separators, then the shortest values ("", 0, null, false, true).
_PREFERRED = '}]",:0nft[{-'
# Per step, the most likely tokens looked at, and how many of them are checked against the budget
# (the costly check), before falling back to writing the completion.
_CANDIDATES = 64
_BUDGET_CHECKS = 8
_MAX_COMPLETION_CHARS = 1 << 16


class SchemaBudgetError(ValueError):
    """The schema's smallest valid document does not fit in the token budget."""


class UnsupportedSchemaError(ValueError):
    """lm-format-enforcer cannot generate documents for this schema."""


@dataclass
class TokenizerIndex:
    """What constrained decoding needs to know about a tokenizer; build once per model."""

    data: TokenEnforcerTokenizerData
    char_tokens: dict[str, int]  # a token that is exactly this one character
    eos_ids: list[int]
    max_token_chars: int

    def tokenize(self, text: str) -> list[int] | None:
        """Longest-match tokens spelling exactly `text`; None when some character has no token."""
        tokens, i = [], 0
        while i < len(text):
            node, best, j = self.data.tokenizer_tree.root, None, i
            while j < len(text) and text[j] in node.children:
                node = node.children[text[j]]
                j += 1
                if node.tokens:
                    best = (j, node.tokens[0])
            if best is None:
                return None
            i = best[0]
            tokens.append(best[1])
        return tokens

    def completion_tokens(self, parser: CharacterLevelParser, budget: int) -> list[int] | None:
        """Tokens that finish the document from this parser state, if at most `budget` of them."""
        text = completion(parser, self.char_tokens, min(_MAX_COMPLETION_CHARS, budget * self.max_token_chars))
        tokens = None if text is None else self.tokenize(text)
        return tokens if tokens is not None and len(tokens) <= budget else None


def build_tokenizer_index(tokenizer, eos_ids: list[int]) -> TokenizerIndex:
    """Every regular token with its text, as lm-format-enforcer expects them.

    Tokens whose text has a control character or an incomplete UTF-8 sequence are left out: raw
    control characters are invalid inside JSON strings, and a JSON document never needs them.
    """
    vocab_size = len(tokenizer)
    special = set(tokenizer.all_special_ids)
    ids = [i for i in range(vocab_size) if i not in special]
    zero = tokenizer.encode("0", add_special_tokens=False)[-1]
    alone = tokenizer.batch_decode([[i] for i in ids])
    # Decoding after "0" keeps a word-start token's leading space (SentencePiece drops it when alone).
    after_zero = tokenizer.batch_decode([[zero, i] for i in ids])
    regular, char_tokens = [], {}
    for token_id, text_alone, text_after in zip(ids, alone, after_zero):
        text = text_after[1:]
        if not text or any(ord(c) < 32 or c in "\x7f\ufffd" for c in text):
            continue
        regular.append((token_id, text, len(text) > len(text_alone)))
        if len(text) == 1 and text_alone == text:
            char_tokens.setdefault(text, token_id)

    def decode(tokens: list[int]) -> str:
        return tokenizer.decode(tokens).rstrip("\ufffd")

    collecting = gc.isenabled()
    gc.disable()  # the prefix tree is ~one object per token; collections while building cost 3-7x the time
    try:
        data = TokenEnforcerTokenizerData(regular, decode, list(eos_ids), False, vocab_size)
    finally:
        if collecting:
            gc.enable()
    return TokenizerIndex(data, char_tokens, list(eos_ids), max(len(text) for _, text, _ in regular))


_ANY_JSON = {"anyOf": [{"type": t} for t in ("string", "number", "boolean", "null", "object", "array")]}
_SCHEMA_LISTS = ("anyOf", "allOf", "oneOf", "prefixItems")
_SCHEMA_MAPS = ("properties", "$defs", "definitions", "patternProperties")
_KINDS = ("type", "enum", "const", "$ref") + _SCHEMA_LISTS


def parser_schema(schema):
    """A copy of the schema adapted to lm-format-enforcer's JsonSchemaParser.

    - a schema without a type ({} = any value, or only properties / items) gets one: the parser needs it;
    - maxLength 0 becomes enum [""]: the parser takes a maxLength of 0 for no limit.
    """
    if not isinstance(schema, dict):
        return _ANY_JSON if schema is True else schema
    copy = dict(schema)
    for key in _SCHEMA_LISTS:
        if isinstance(copy.get(key), list):
            copy[key] = [parser_schema(s) for s in copy[key]]
    for key in _SCHEMA_MAPS:
        if isinstance(copy.get(key), dict):
            copy[key] = {name: parser_schema(s) for name, s in copy[key].items()}
    for key in ("items", "additionalProperties"):
        if isinstance(copy.get(key), dict):
            copy[key] = parser_schema(copy[key])
    if copy.get("maxLength") == 0 and "enum" not in copy:
        copy["enum"] = [""]
    if not any(key in copy for key in _KINDS):
        if "properties" in copy or "additionalProperties" in copy:
            copy["type"] = "object"
        elif "items" in copy:
            copy["type"] = "array"
        else:
            return {**_ANY_JSON, **{k: v for k, v in copy.items() if k in ("$defs", "definitions")}}
    return copy


def completion(parser: CharacterLevelParser, chars, limit: int) -> str | None:
    """A short text that finishes the document from this parser state, each character in `chars`.

    None when no such text of at most `limit` characters is found.
    """
    out: list[str] = []
    try:
        while not parser.can_end():
            if len(out) >= limit:
                return None
            char = _pick(parser.get_allowed_characters(), chars)
            if char is None:
                return None
            parser = parser.add_character(char)
            out.append(char)
    except Exception:  # the parser rejected a character it offered: treat as no completion
        return None
    return "".join(out)


def _pick(allowed: str, chars) -> str | None:
    usable = [c for c in allowed if c in chars and c not in WHITESPACE_CHARACTERS]
    if not usable:
        return None
    if "\\" in allowed:  # inside free text (or just after a backslash): close the string
        if '"' in usable:
            return '"'
        alnum = sorted(c for c in usable if c.isalnum())
        return alnum[0] if alnum else min(usable)
    for char in _PREFERRED:
        if char in usable:
            return char
    return min(usable)


def is_finished(parser: CharacterLevelParser) -> bool:
    """The document is complete and nothing but whitespace may follow."""
    return parser.can_end() and all(c in WHITESPACE_CHARACTERS for c in parser.get_allowed_characters())


class _TextVeto:
    """Lexical position in the generated JSON, to refuse two things the parser wrongly accepts: whitespace
    at the start of a string (it does not count it towards maxLength), and number exponents ("1e-5" passes
    its integer check; "1.e5" is not JSON). Neither is ever needed (0.00001 works)."""

    __slots__ = ("in_string", "escaped", "at_start", "last")

    def __init__(self):
        self.in_string, self.escaped, self.at_start, self.last = False, False, False, ""

    def copy(self) -> "_TextVeto":
        other = _TextVeto()
        other.in_string, other.escaped, other.at_start, other.last = (
            self.in_string, self.escaped, self.at_start, self.last)
        return other

    def feed(self, text: str) -> bool:
        """Advance over `text`; False when it contains something refused."""
        for char in text:
            if self.in_string:
                if self.at_start and char in WHITESPACE_CHARACTERS:
                    return False
                self.at_start = False
                if self.escaped:
                    self.escaped = False
                elif char == "\\":
                    self.escaped = True
                elif char == '"':
                    self.in_string = False
            elif char == '"':
                self.in_string, self.at_start = True, True
            elif char in "eE" and (self.last.isdigit() or self.last == "."):
                return False
            self.last = char
        return True


class SchemaLogitsProcessor(LogitsProcessor):
    """Chooses every token itself (greedy or sampled among the schema-valid ones) and masks the rest.

    Use with `do_sample=False` and batch size 1; the returned scores allow exactly one token.
    """

    def __init__(self, index: TokenizerIndex, schema: dict, prompt_ids: list[int], max_new_tokens: int,
                 temperature: float = 0.0):
        self.index = index
        # At most one whitespace in a row: JSON never needs more, and it saves tokens.
        config = CharacterLevelParserConfig(
            alphabet=index.data.tokenizer_alphabet, max_consecutive_whitespaces=1)
        parser = JsonSchemaParser(parser_schema(schema), config)
        self.enforcer = TokenEnforcer(index.data, parser)
        parser.config = config  # TokenEnforcer replaced it with one that has only the alphabet
        self.prompt_len = len(prompt_ids)
        self.max_new_tokens = max_new_tokens
        self.temperature = temperature
        self.forced: list[int] = []
        self.veto = _TextVeto()
        self.enforcer.get_allowed_tokens(list(prompt_ids))
        text = completion(self._parser(prompt_ids), index.char_tokens, _MAX_COMPLETION_CHARS)
        needed = None if text is None else index.tokenize(text)
        if needed is None or len(needed) > max_new_tokens:
            if needed is None:
                raise UnsupportedSchemaError("lm-format-enforcer cannot build a document for this schema")
            raise SchemaBudgetError(
                f"the smallest document valid against the schema needs {len(needed)} tokens, "
                f"more than the {max_new_tokens} new tokens allowed"
            )

    def _parser(self, seq) -> CharacterLevelParser:
        return self.enforcer.prefix_states[tuple(seq)].parser

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        seq = input_ids[0].tolist()
        remaining = self.max_new_tokens - (len(seq) - self.prompt_len)
        allowed = self.enforcer.get_allowed_tokens(seq).allowed_tokens  # also advances the enforcer
        parser = self._parser(seq)
        if self.forced:
            choice = self.forced.pop(0)
        elif is_finished(parser):
            choice = self.index.eos_ids[0]
        else:
            choice = self._choose(seq, allowed, scores[0], remaining, parser)
        self.veto.feed(self._text(choice))
        out = torch.full_like(scores, float("-inf"))
        out[:, choice] = 0.0
        return out

    def _choose(self, seq, allowed, scores, remaining: int, parser) -> int:
        ids = torch.tensor([t for t in allowed if t < scores.shape[-1]], dtype=torch.long)
        checks = 0
        for token in self._ranked(ids, scores):
            if token in self.index.eos_ids:
                if parser.can_end():  # else the enforcer gave up on an internal error: complete instead
                    return token
                continue
            if not self.veto.copy().feed(self._text(token)):
                continue
            if self._fits(seq + [token], remaining - 1):
                return token
            checks += 1
            if checks == _BUDGET_CHECKS:
                break
        path = self.index.completion_tokens(parser, remaining)
        if not path:  # complete already (e.g. a number that could go on): stop here
            return self.index.eos_ids[0]
        self.forced = path
        return self.forced.pop(0)

    def _text(self, token: int) -> str:
        return self.enforcer.tokenizer_tree.tokens_to_strs.get(token, "")

    def _ranked(self, ids: torch.Tensor, scores: torch.Tensor) -> list[int]:
        if ids.numel() == 0:
            return []
        logits = scores[ids].float()
        k = min(_CANDIDATES, ids.numel())
        if self.temperature > 0:
            probs = torch.softmax(logits / self.temperature, dim=-1)
            probs = torch.nan_to_num(probs, nan=0.0)
            k = min(k, int((probs > 0).sum()))
            if k == 0:
                return []
            picked = torch.multinomial(probs, k, replacement=False)
        else:
            picked = torch.topk(logits, k).indices
        return ids[picked].tolist()

    def _fits(self, seq: list[int], budget: int) -> bool:
        try:
            self.enforcer.get_allowed_tokens(seq)
        except Exception:
            return False
        parser = self._parser(seq)
        if isinstance(parser, ForceStopParser):
            return False
        return self.index.completion_tokens(parser, budget) is not None
