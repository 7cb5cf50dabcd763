"""`keras-dlss list`: each application, its default data and that data's license."""

from keras_dlss.cli._common import command, import_keras


@command("list", "list the applications and their default data")
def configure(parser):
    parser.set_defaults(run=run)


def run(args):
    import_keras()
    from keras_dlss.applications.registry import get_task, task_names

    for name in task_names():
        task = get_task(name)
        print(
            f"{name:<20} {task.summary}\n"
            f"{'':<20} default data: {task.default_data} (license: {task.data_license})"
        )
    return 0
