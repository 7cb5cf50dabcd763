"""`keras-dlss predict`: run a trained application on text inputs."""

from keras_dlss.cli import artifacts
from keras_dlss.cli._common import command, get_task, load_model, readable_path


@command("predict", "run a trained application on text inputs")
def configure(parser):
    parser.add_argument("app")
    parser.add_argument("model", type=readable_path, help="path to MODEL.keras written by `train`")
    parser.add_argument("inputs", nargs="+", help="one or more inputs (quote each)")
    parser.set_defaults(run=run)


def run(args):
    task = get_task(args.app)
    model = load_model(args.model)
    metadata = artifacts.load_metadata_beside(args.model)
    for line in task.predict(model, list(args.inputs), metadata):
        print(line)
    return 0
