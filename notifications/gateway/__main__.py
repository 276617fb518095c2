"""Run the local SMS gateway: ``python -m notifications.gateway``."""

import argparse
import logging

from .server import GatewayServer


def main() -> None:
    parser = argparse.ArgumentParser(description="Local SMS gateway")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8025)
    parser.add_argument("--name", default="local")
    parser.add_argument("--token", default="local-gateway-token")
    parser.add_argument(
        "--portal-url",
        default="",
        help="where receipts and replies go, e.g. http://127.0.0.1:8000",
    )
    parser.add_argument("--receipt-delay", type=float, default=1.0)
    parser.add_argument(
        "--batch",
        type=int,
        default=0,
        help="messages a request may carry (0: any number)",
    )
    parser.add_argument(
        "--time-zone",
        default="Europe/Moscow",
        help="the time zone the message list shows (the portal's TIME_ZONE)",
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    server = GatewayServer(
        host=args.host,
        port=args.port,
        name=args.name,
        token=args.token,
        portal_url=args.portal_url,
        receipt_delay=args.receipt_delay,
        time_zone=args.time_zone,
        batch=args.batch,
    )
    print(f"SMS gateway {args.name} on {server.url}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
