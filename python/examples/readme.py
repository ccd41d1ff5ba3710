import sys
import conveyor

recipe = {"outputs": [{"name": "large", "width": 1600, "height": 1600, "format": "jpeg", "quality": 80},
                      {"name": "thumb", "width": 320, "height": 320, "fit": "cover", "format": "webp"}]}
with conveyor.Pool(workers=2, queue_capacity=8) as pool:
    futures = {path: pool.submit(open(path, "rb").read(), recipe) for path in sys.argv[1:]}
    for path, future in futures.items():
        try:
            print(path + ":", ", ".join(f"{o.name} {o.format} {o.width}x{o.height}" for o in future.result().outputs))
        except conveyor.ConveyorError as e:
            print(f"{path}: failed with {e.code} ({e.message})")
