"""Reloading the site and policy files while the daemon serves (SIGHUP, or a saved file).

`Reloading` is the half of `gateway.daemon.Daemon` that swaps the configuration: between
messages and ticks (it takes the daemon's busy lock), never in the middle of one; a new file
that is invalid, or whose keys cannot be read, is refused and the running one kept. A new
site rebuilds the parts built from it (lighting, intake, admission, the command watch, the
city services), carrying over what must outlive it: device clocks, meters' last indexes, the
services' state, the energy booked. systemd hears RELOADING=1, then READY=1 either way.
"""

import asyncio
import logging
from collections.abc import Callable

from controllers.settings import ConfigError
from gateway.config import Settings
from gateway.ingest.clocks import DeviceClocks
from gateway.ingest.intake import Intake
from gateway.ingest.readings import Normaliser
from gateway.lighting import persist as lighting_state
from gateway.lighting.authority import Authority, KeyUnavailableError, read_keys
from gateway.lighting.control import Lighting
from gateway.lighting.services import LightingServices
from gateway.lighting.voice import CommandWatch
from gateway.logs import event
from gateway.ops.admission import Admission
from gateway.ops.notify import Notifier
from gateway.ops.watch import FileWatch
from gateway.pipeline import Pipeline
from gateway.services.city import CityServices
from gateway.wire.clock import Clock

log = logging.getLogger("luciole.gateway")


class Reloading:
    """Configuration reloads for the daemon (see the module docstring)."""

    settings: Settings
    lighting: Lighting
    services: LightingServices
    intake: Intake
    clocks: DeviceClocks
    admission: Admission
    authority: Authority
    watch: CommandWatch
    city: CityServices
    pipeline: Pipeline
    config_watch: FileWatch
    notifier: Notifier
    _reload: Callable[[], Settings] | None
    _clock: Clock
    _busy: asyncio.Lock
    _background: set[asyncio.Task[None]]

    def _intake(self, settings: Settings, normaliser: Normaliser) -> Intake:  # the daemon's
        raise NotImplementedError

    def _pipeline(self) -> Pipeline:  # the daemon's: how it wires its parts
        raise NotImplementedError

    def _status(self) -> str:  # the daemon's: the line systemd shows
        raise NotImplementedError

    def request_reload(self) -> None:
        """Reload between messages and ticks, never in the middle of one (signal-handler safe)."""
        task = asyncio.get_running_loop().create_task(self._reload_when_idle(), name="reload")
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _reload_when_idle(self) -> None:
        async with self._busy:
            self.notifier.reloading("reloading the site and policy files")
            try:
                self.reload()
            finally:  # refused or not, the daemon serves again: systemd must hear it
                self.notifier.ready_again(self._status())

    def reload(self) -> None:
        """Re-read the configuration; keep the running one if the new one is invalid."""
        if self._reload is None:
            event(log, logging.WARNING, "reload ignored: this daemon was not started from files")
            return
        try:
            new = self._reload()
        except ConfigError as error:
            for problem in error.problems:
                event(
                    log,
                    logging.ERROR,
                    "reload refused, keeping the running config",
                    problem=problem,
                )
            return
        try:
            keys = read_keys(new.site.overrides, new.site_path.parent)
        except KeyUnavailableError as error:
            event(log, logging.ERROR, "reload refused, keeping the running config", problem=error)
            return
        old, self.settings = self.settings, new
        if new.site != old.site:
            if new.site.broker != old.site.broker:
                event(
                    log, logging.WARNING, "broker settings changed; restart the daemon to use them"
                )
            old_lighting, now_s = self.lighting, self._clock.now()
            self.lighting = Lighting(new.site, new.policy, now_s)
            # Operators' overrides and the flows outlive a new site file.
            lighting_state.carry_over(old_lighting, self.lighting, now_s)
            self.services.replace_lighting(self.lighting, self._clock.now())
            self.intake = self._intake(new, self.intake.normaliser)
            self.admission = Admission(new.site)
            self.authority.replace_keys(keys, new.site.overrides.max_clock_skew_s)
            self.authority.announce(self.lighting.topics.overrides)
            self.watch = CommandWatch(self.lighting)
            self.city = self.city.carried_into(new.site, new.policy)
            self.pipeline = self._pipeline()
            event(log, logging.INFO, "site reloaded; lamps will be sent their levels again")
        else:
            self.lighting.replace_policy(new.policy)
            self.city = self.city.carried_into(new.site, new.policy)
            self.pipeline = self._pipeline()
            event(log, logging.INFO, "policy reloaded", file=str(new.policy_path))
        self.config_watch.watch(new.files)
