"""Each mailbox's reading rules for processing: its marketplace preset and its model.

Built once per run (and again on reload) in maild's own process, where a bad model
file is an error at start, not a quarantine of every message in the workers.
"""

__all__ = ["MailboxRules", "rules_for"]

import logging
from dataclasses import dataclass
from pathlib import Path

from maild.config import Settings
from maild.threads.presets import Preset, load_preset

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class MailboxRules:
    preset: Preset
    # Absolute path of a model file already checked to load; None: no classification.
    model: str | None = None
    # The digest of that file when it was checked: which weights workers must use.
    model_digest: str | None = None


def _model(
    name: str, configured: str | None, base: Path, checked: dict[Path, str]
) -> tuple[str, str] | None:
    """The path and digest of ``name``'s model, checked; None when it has none."""
    # Imported here so that parse workers, which import this module for MailboxRules,
    # do not load numpy.
    from maild.classify.default import DEFAULT_MODEL
    from maild.classify.model import load_model
    from maild.classify.shared import digest_of, keep

    if configured is None:
        if not DEFAULT_MODEL.is_file():
            log.warning(
                "no classifier model mailbox=%s path=%s; messages are tagged but not "
                "classified (build it with: maild train --shipped-from CORPORA --out PATH)",
                name,
                DEFAULT_MODEL,
            )
            return None
        path = DEFAULT_MODEL
    else:
        path = base / configured
    path = path.resolve()
    if path not in checked:  # mailboxes sharing a model (most do) load it once
        # Refuses a missing, tampered or foreign file with a clear error.
        model = load_model(path)
        keep(str(path), model)
        checked[path] = digest_of(model)
    return str(path), checked[path]


def rules_for(settings: Settings) -> dict[str, MailboxRules]:
    """Rules of every mailbox; a relative model path starts at the config file's directory."""
    base = settings.source.parent if settings.source else Path.cwd()
    checked: dict[Path, str] = {}
    rules = {}
    for name, mailbox in settings.mailboxes.items():
        preset = load_preset(mailbox.preset, mailbox.order_patterns)
        model = _model(name, mailbox.classifier_model, base, checked)
        rules[name] = MailboxRules(preset, *model) if model else MailboxRules(preset)
    return rules
