"""Admin commands without a running server: the same objects as the admin API, same store.

    gateway keys create [--type workspace] [--sub-type service] (--name NAME | --json BODY)
    gateway keys list | show ID | update ID --json BODY | delete ID
    gateway virtual-keys create --json BODY | list | show SLUG | update SLUG --json BODY | delete SLUG
    gateway configs create --json BODY | list | show REF | update REF --json BODY | delete REF
    gateway rotate-master-key --new-master-key-file PATH
    gateway usage --api-key ID | --virtual-key SLUG [--from YYYY-MM-DD] [--to YYYY-MM-DD]

BODY is the admin API's JSON body: inline, ``@path``, or ``-`` for stdin (keep provider
keys off the command line, where ``ps`` shows them). The store options are the
server's (``--store``, ``--state-dir``, ``--master-key-file``, their ``GATEWAY_*``
variables). Answers are JSON on stdout; an API key is printed once, on create.
Running gateways see a change within their refresh bound (2 s).
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import logging
import os
import sys
from collections.abc import Sequence
from typing import Any

import orjson

from .errors import GatewayError
from .log import configure_logging
from .settings import Settings, SettingsError, parse_settings
from .store import MasterKey, MasterKeyError, Store, StoreError, open_store
from .store.base import Conflict
from .store.location import resolve_store_url
from .store.runtime import StartupError, load_master_key, open_checked_store

COMMANDS = ("keys", "virtual-keys", "configs", "rotate-master-key", "usage")
audit_log = logging.getLogger("gateway.audit")


class CommandError(Exception):
    """A one-line failure for the operator (exit 1)."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="gateway", description="manage keys, virtual keys and configs")
    commands = parser.add_subparsers(dest="command", required=True)
    for command, ref in (("keys", "ID"), ("virtual-keys", "SLUG"), ("configs", "REF")):
        group = commands.add_parser(command).add_subparsers(dest="action", required=True)
        create = group.add_parser("create")
        create.add_argument("--json", dest="body", help="JSON body, @file, or - for stdin")
        if command == "keys":
            create.add_argument("--name")
            create.add_argument("--type", default="workspace")
            create.add_argument("--sub-type", default="service")
        group.add_parser("list")
        for action in ("show", "delete"):
            group.add_parser(action).add_argument("ref", metavar=ref)
        update = group.add_parser("update")
        update.add_argument("ref", metavar=ref)
        update.add_argument("--json", dest="body", required=True, help="JSON body, @file, or - for stdin")
    usage = commands.add_parser("usage", help="usage per day of an API key or a virtual key (the limit counters)")
    whose = usage.add_mutually_exclusive_group(required=True)
    whose.add_argument("--api-key", metavar="ID")
    whose.add_argument("--virtual-key", metavar="SLUG")
    usage.add_argument("--from", dest="first", metavar="YYYY-MM-DD", help="first UTC day (default: --to)")
    usage.add_argument("--to", dest="last", metavar="YYYY-MM-DD", help="last UTC day (default: today)")
    rotate = commands.add_parser("rotate-master-key", help="re-encrypt every stored secret under a new master key")
    rotate.add_argument("--new-master-key-file", required=True)
    return parser


def main(argv: Sequence[str], environ: dict[str, str] | None = None) -> int:
    environ = dict(os.environ if environ is None else environ)
    parser = _parser()
    try:
        args, rest = parser.parse_known_args(list(argv))
        settings = parse_settings(rest, environ)
    except SettingsError as exc:
        print(f"gateway: {exc}", file=sys.stderr)
        return 2
    configure_logging(settings.log_level)
    try:
        answer = asyncio.run(_run(args, settings, environ))
    except (CommandError, StartupError, MasterKeyError, StoreError) as exc:
        print(f"gateway: {exc}", file=sys.stderr)
        return 1
    except GatewayError as exc:  # a refused body: the admin API's own message
        print(f"gateway: {exc.message}", file=sys.stderr)
        return 1
    sys.stdout.write(orjson.dumps(answer, option=orjson.OPT_INDENT_2).decode() + "\n")
    return 0


def _body(text: str | None) -> dict[str, Any]:
    if text is None:
        raise CommandError("give the body with --json (JSON, @file or - for stdin)")
    if text == "-":
        text = sys.stdin.read()
    elif text.startswith("@"):
        try:
            with open(text[1:]) as file:
                text = file.read()
        except OSError as exc:
            raise CommandError(f"--json: cannot read {text[1:]}: {exc.strerror}") from None
    try:
        body = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise CommandError(f"--json: not valid JSON ({exc})") from None
    if not isinstance(body, dict):
        raise CommandError("--json: must be a JSON object")
    return body


def _audit(action: str, object_id: str, **fields: Any) -> None:
    audit_log.info(
        action, extra={"fields": {"actor": f"cli:{getpass.getuser()}", "action": action, "id": object_id, **fields}}
    )


async def _open(settings: Settings, environ: dict[str, str]) -> Store:
    store = open_store(resolve_store_url(settings.store, settings.state_dir, environ), load_master_key(settings))
    await store.start()
    return store


async def _run(args: argparse.Namespace, settings: Settings, environ: dict[str, str]) -> Any:
    if args.command == "rotate-master-key":
        return await _rotate(args, settings, environ)
    if args.command == "usage":
        return await _usage(args, settings, environ)
    store = await _open(settings, environ)
    try:
        handler = {"keys": _keys, "virtual-keys": _virtual_keys, "configs": _configs}[args.command]
        return await handler(args, store, settings)
    except Conflict:
        raise CommandError("an object with this slug already exists") from None
    finally:
        await store.close()


def _missing(kind: str, ref: str) -> CommandError:
    return CommandError(f"no {kind} {ref!r}")


async def _keys(args: argparse.Namespace, store: Store, settings: Settings) -> Any:
    from .admin.api_keys import new_api_key_record, parse_api_key

    if args.action == "list":
        return [key.public() for key in await store.list_api_keys()]
    if args.action == "create":
        body = _body(args.body) if args.body is not None else {}
        if args.name:
            body["name"] = args.name
        key, blank = new_api_key_record(args.type, args.sub_type)
        record = await parse_api_key(body, blank, store)
        await store.create_api_key(record)
        _audit("api_key.create", record.id, name=record.name)
        return {"id": record.id, "key": key, "object": "api-key"}
    current = await store.get_api_key(args.ref)
    if current is None:
        raise _missing("api key", args.ref)
    if args.action == "show":
        return current.public()
    if args.action == "update":
        record = await parse_api_key(_body(args.body), current, store)
        await store.update_api_key(record)
        _audit("api_key.update", record.id)
        return record.public()
    await store.delete_api_key(current.id)
    _audit("api_key.delete", current.id)
    return {}


async def _virtual_keys(args: argparse.Namespace, store: Store, settings: Settings) -> Any:
    from .admin.virtual_keys import parse_virtual_key

    allow = settings.allowed_custom_hosts
    if args.action == "list":
        return [vk.public() for vk in await store.list_virtual_keys()]
    if args.action == "create":
        vk = parse_virtual_key(_body(args.body), None, allow)
        await store.create_virtual_key(vk)
        _audit("virtual_key.create", vk.id, slug=vk.slug, provider=vk.provider)
        return {"id": vk.id, "slug": vk.slug, "object": "virtual-key"}
    current = await store.get_virtual_key(args.ref)
    if current is None:
        raise _missing("virtual key", args.ref)
    if args.action == "show":
        return current.public()
    if args.action == "update":
        vk = parse_virtual_key(_body(args.body), current, allow)
        await store.update_virtual_key(vk)
        _audit("virtual_key.update", vk.id, slug=vk.slug)
        return vk.public()
    await store.delete_virtual_key(current.slug)
    _audit("virtual_key.delete", current.id, slug=current.slug)
    return {}


async def _configs(args: argparse.Namespace, store: Store, settings: Settings) -> Any:
    from .admin.configs import new_config, parse_config

    allow = settings.allowed_custom_hosts
    if args.action == "list":
        return [config.public() for config in await store.list_configs()]
    if args.action == "create":
        config = await parse_config(_body(args.body), new_config(), store, allow)
        await store.create_config(config)
        _audit("config.create", config.id, slug=config.slug)
        return {"id": config.id, "version_id": config.version_id, "slug": config.slug, "object": "config"}
    current = await store.get_config(args.ref)
    if current is None:
        raise _missing("config", args.ref)
    if args.action == "show":
        return current.public()
    if args.action == "update":
        config = await parse_config({k: v for k, v in _body(args.body).items() if k != "slug"}, current, store, allow)
        await store.update_config(config)
        _audit("config.update", config.id, slug=config.slug)
        return {"id": config.id, "slug": config.slug, "version_id": config.version_id, "object": "config"}
    await store.delete_config(current.id)
    _audit("config.delete", current.id, slug=current.slug)
    return {}


async def _rotate(args: argparse.Namespace, settings: Settings, environ: dict[str, str]) -> Any:
    new = MasterKey.from_file(args.new_master_key_file)
    store = await open_checked_store(settings, environ) if settings.master_key_file else await _open(settings, environ)
    if store is None:  # pragma: no cover - a master key file always selects a store
        raise CommandError("no store")
    try:
        count = await store.rotate_master_key(new)
    finally:
        await store.close()
    _audit("master_key.rotate", new.key_id, resealed=count)
    return {"resealed": count, "key_id": new.key_id}


def preflight(settings: Settings) -> None:
    """Before serving: the admin key file reads, and the master key opens every sealed entry.

    Raises StartupError (one line; the gateway exits 2).
    """
    from .store.runtime import load_admin_key

    load_admin_key(settings)

    async def check() -> None:
        store = await open_checked_store(settings)
        if store is not None:
            await store.close()

    asyncio.run(check())


async def _usage(args: argparse.Namespace, settings: Settings, environ: dict[str, str]) -> Any:
    """Read from the same counters the gateways charge (embedded file, or --redis)."""
    from .limits.counters import CountersUnavailable
    from .limits.factory import open_counters
    from .limits.usage_report import BadRange, day_range, usage_report

    try:
        first, last = day_range(args.first, args.last)
    except BadRange as exc:
        raise CommandError(f"--{exc}") from None
    scope = f"api-key:{args.api_key}" if args.api_key else f"virtual-key:{args.virtual_key}"
    counters = open_counters(settings, environ)
    try:
        return await usage_report(counters, scope, first, last)
    except (CountersUnavailable, TimeoutError, OSError) as exc:
        raise CommandError(f"cannot read the limit counters: {type(exc).__name__}") from None
    finally:
        await counters.close()
