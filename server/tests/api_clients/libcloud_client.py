"""Drives Meridian's CloudStack API with Apache libcloud's CloudStack driver from PyPI.

Run by server/tests/api_clients.rs with MERIDIAN_HOST, MERIDIAN_PORT, MERIDIAN_KEY and
MERIDIAN_SECRET set. The tenant has never used London: create_node there makes its network.
"""
import os

from libcloud.common.types import InvalidCredsError
from libcloud.compute.providers import get_driver
from libcloud.compute.types import NodeState, Provider

CloudStack = get_driver(Provider.CLOUDSTACK)


def driver(secret):
    return CloudStack(
        key=os.environ["MERIDIAN_KEY"],
        secret=secret,
        host=os.environ["MERIDIAN_HOST"],
        port=int(os.environ["MERIDIAN_PORT"]),
        path="/client/api",
        secure=False,
    )


cloud = driver(os.environ["MERIDIAN_SECRET"])
london = next(location for location in cloud.list_locations() if location.name == "London")
size = next(size for size in cloud.list_sizes() if size.id == "xs")
image = next(image for image in cloud.list_images(location=london) if image.id == "debian-12")

node = cloud.create_node(name="lc-vm-1", size=size, image=image, location=london)
nodes = {n.id: n for n in cloud.list_nodes()}
assert node.id in nodes, nodes
assert nodes[node.id].state == NodeState.RUNNING, nodes[node.id].state
assert nodes[node.id].private_ips and nodes[node.id].private_ips[0].startswith("10."), nodes[node.id]
assert nodes[node.id].extra["zone_name"] == "London", nodes[node.id].extra
assert [n.name for n in cloud.ex_list_networks() if n.zoneid == london.id] == ["default-lon1"]

assert cloud.ex_stop(node) == "Stopped"
assert cloud.destroy_node(node) is True
assert node.id not in {n.id for n in cloud.list_nodes()}

try:
    driver("not-the-secret").list_locations()
    raise SystemExit("a wrong secret was accepted")
except InvalidCredsError:
    pass

print("libcloud: locations, sizes, images, create in a fresh zone, list, stop, destroy, wrong secret: all as expected")
