"""labhub on Docker Swarm (`spawner.kind: swarm`): the same lab on several machines.

- settings.py  the `spawner.swarm:` section (how the hub reaches servers, where homes live)
- nodes.py     what the hub asks the swarm managers: nodes, their state and address, home nodes
- gpus.py      the lab-wide GPU inventory from the nodes' generic resources (units <node>/<uuid>)
- spawner.py   LabSwarmSpawner: LabSpawner's profiles, limits, leases and labels as swarm services
- hubside.py   wiring at hub start-up (spawner class, network, hub address)

docs/scale-out.md explains the set-up; deploy/labhub-stack.yml runs the hub itself as a swarm service.
"""
