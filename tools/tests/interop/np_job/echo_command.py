"""An app command for the admin console's tests: `app_command JOB echo # DATA`
answers {"topic": "echo", "data": DATA}, DATA being the request's cmd_props."""

from nvflare.apis.event_type import EventType
from nvflare.apis.fl_component import FLComponent


class EchoCommand(FLComponent):
    def handle_event(self, event_type, fl_ctx):
        if event_type == EventType.START_RUN:
            fl_ctx.get_engine().register_app_command("echo", self._echo)

    @staticmethod
    def _echo(topic, data, fl_ctx):
        return {"topic": topic, "data": data}
