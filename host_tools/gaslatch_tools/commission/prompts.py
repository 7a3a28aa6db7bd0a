"""The person on site, or the answers that stand in for them: instructions, yes/no and text questions.
Every command that asks anything shares it, so a pty, --yes and --answers FILE work the same in each."""

from __future__ import annotations

import json
import sys
import time
from typing import Any, Callable, TextIO

import click
import yaml
from rich.console import Console

from gaslatch_tools.commission.command_outcome import CommandStop
from gaslatch.translation import N_, _

YES_WORDS = ("y", "yes", "true", "1", "ok", "是", "对")
NO_WORDS = ("n", "no", "false", "0", "否", "不")
YES_HELP = _("Answer yes to every question and go on after every instruction at once.")
NO_ANSWER_HINT = N_("run it at a terminal, or give --yes / --answers FILE")


class PromptError(CommandStop):
    """A question nobody answered: standard input closed, or --answers has no usable answer for it."""

    def __init__(self, message: str):
        super().__init__("no_answer", message, _(NO_ANSWER_HINT))


def parse_answers(text: str, source: str = "answers") -> list | dict:
    """An answers file (JSON or YAML): a list of answers taken in order, or a map question key -> answer.

    Answers are scalars (yes/no, text, numbers, null). Raises PromptError naming what is wrong.
    """
    try:
        doc = json.loads(text)  # first: PyYAML reads JSON's surrogate-pair escapes (\ud83d\ude00) as two characters
    except ValueError:
        try:
            doc = yaml.safe_load(text)
        except yaml.YAMLError as err:
            raise PromptError(_("%(source)s is not JSON or YAML: %(error)s")
                              % {"source": source, "error": str(err).splitlines()[0]}) from None
    if doc is None:
        return []
    if isinstance(doc, list):
        for index, value in enumerate(doc):
            if not _scalar(value):
                raise PromptError(_("%(source)s[%(index)d]: an answer is yes/no, a number or text, not %(type)s")
                                  % {"source": source, "index": index, "type": type(value).__name__})
        return doc
    if isinstance(doc, dict):
        for key in sorted(doc, key=str):
            if not isinstance(key, str):
                raise PromptError(_("%(source)s: question keys are text (e.g. apply_gas.hood1), not %(key)r")
                                  % {"source": source, "key": key})
            if not _scalar(doc[key]):
                raise PromptError(_("%(source)s.%(key)s: an answer is yes/no, a number or text, not %(type)s")
                                  % {"source": source, "key": key, "type": type(doc[key]).__name__})
        return doc
    raise PromptError(_("%s: expected a list of answers or a map of question keys to answers") % source)


def _scalar(value: Any) -> bool:
    return value is None or isinstance(value, (bool, int, float, str))


def yes_no(value: Any) -> bool | None:
    """An answer as yes (True) / no (False), or None when it is neither."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in YES_WORDS:
        return True
    if text in NO_WORDS:
        return False
    return None


class Prompter:
    """Instructions and questions for the person on site, or answered by --answers FILE / --yes.

    Every question has a key (apply_gas.hood1, reopen_refused...): the key of a map in the answers file;
    a list of answers is taken in order. Everything asked and answered is kept in `log` for the record.
    """

    def __init__(self, console: Console, answers: list | dict | None = None, yes: bool = False,
                 stdin: TextIO | None = None, source: str = "--answers"):
        self.console = console
        self.answers = list(answers) if isinstance(answers, list) else answers
        self.yes = yes
        self.stdin = stdin or sys.stdin
        self.source = source
        self.log: list[dict] = []

    def say(self, text: str, style: str = "") -> None:
        self.console.print(text, style=style or None, markup=False, highlight=False)

    def _scripted(self, key: str) -> tuple[bool, Any]:
        if isinstance(self.answers, dict):
            return (True, self.answers[key]) if key in self.answers else (False, None)
        if self.answers:
            return True, self.answers.pop(0)
        return False, None

    def _line(self, key: str, prompt: str) -> str:
        self.console.print(prompt, end="", markup=False, highlight=False)
        self.console.file.flush()
        line = self.stdin.readline()
        if not line:
            raise PromptError(_("no answer to %s: standard input is closed (answer with --yes or --answers FILE)")
                              % key)
        return line.strip()

    def act(self, key: str, instruction: str) -> float:
        """The person does something, then says so; returns when they did (monotonic seconds)."""
        self.say("→ " + instruction, "bold")
        found, _value = self._scripted(key)
        if found or self.yes:
            self.say(_("  (%s: going on)") % (self.source if found else "--yes"))
        else:
            self._line(key, _("  press Enter when done "))
        self.log.append({"key": key, "answer": "done"})
        return time.monotonic()

    def confirm(self, key: str, question: str) -> bool:
        found, value = self._scripted(key)
        if found:
            answer = yes_no(value)
            if answer is None:
                raise PromptError(_("%(source)s: the answer to %(key)s must be yes or no, not %(value)r")
                                  % {"source": self.source, "key": key, "value": value})
            self.say("%s %s (%s)" % (question, _("yes") if answer else _("no"), self.source))
        elif self.yes:
            answer = True
            self.say("%s %s (--yes)" % (question, _("yes")))
        else:
            while True:
                answer = yes_no(self._line(key, question + " [y/n] "))
                if answer is not None:
                    break
                self.say(_("  please answer y or n"))
        self.log.append({"key": key, "question": question, "answer": answer})
        return answer

    def ask(self, key: str, question: str, default: str) -> str:
        """Free text; an empty answer (or --yes) takes the default."""
        found, value = self._scripted(key)
        if found:
            text = default if value is None else str(value)
            self.say("%s %s (%s)" % (question, text, self.source))
        elif self.yes:
            text = default
            self.say("%s %s (--yes)" % (question, text))
        else:
            text = self._line(key, "%s [%s] " % (question, default)) or default
        self.log.append({"key": key, "question": question, "answer": text})
        return text


def make_prompter(ctx: click.Context, answers_path: str | None, yes: bool) -> Prompter:
    """The prompter of a command run: prompts on stderr when stdout carries --json.

    Raises CommandStop (kind "answers") when the answers file cannot be read or used.
    """
    console = Console(stderr=bool(ctx.obj["json"]), highlight=False)
    answers = None
    if answers_path:
        try:
            with open(answers_path, encoding="utf-8") as handle:
                answers = parse_answers(handle.read(), answers_path)
        except OSError as err:
            raise CommandStop("answers", _("cannot read the answers file %(path)s: %(error)s")
                              % {"path": answers_path, "error": err.strerror or err},
                              _("give the path of a JSON or YAML file with the answers")) from None
        except PromptError as err:
            raise CommandStop("answers", str(err), _("see the command's --help for the question keys")) from None
    return Prompter(console, answers, yes, source=answers_path or "--answers")


def interaction_options(yes_help: str = YES_HELP) -> Callable[[Callable], Callable]:
    """--answers FILE and --yes on a command; yes_help says what --yes means for it."""
    def decorate(command: Callable) -> Callable:
        command = click.option("--yes", is_flag=True, help=yes_help)(command)
        return click.option("--answers", "answers_path", type=click.Path(dir_okay=False),
                            help=_("JSON or YAML answers: a list taken in order, or a map of question keys "
                                   "(shown in brackets in the help) to answers."))(command)
    return decorate
