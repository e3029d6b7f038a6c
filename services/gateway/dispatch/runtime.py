"""Where endpoints find the running dispatcher: ``app.state.dispatcher``, made in the app's lifespan."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from services.gateway.dispatch.supervisor import Dispatcher

__all__ = ["DispatcherDep", "get_dispatcher"]


def get_dispatcher(request: Request) -> Dispatcher:
    dispatcher: Dispatcher = request.app.state.dispatcher
    return dispatcher


DispatcherDep = Annotated[Dispatcher, Depends(get_dispatcher)]
