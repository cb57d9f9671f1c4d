"""Where a district's files wait when a run is started without explicit paths."""

from pathlib import Path

import dagster as dg


class DropboxResource(dg.ConfigurableResource):
    """A folder per platform and district (`<root>/<platform>/<district>/[<YYYY-MM-DD>/]`).

    SFTP pickups and manual uploads land here; a UI-launched run of a partition reads the
    day's folder if there is one, else the district's folder.
    """

    root: str

    def paths_for(self, platform: str, district_id: str, day: str) -> list[Path]:
        """Folders to read for one partition (empty when nothing was dropped)."""
        district_folder = Path(self.root) / platform / district_id
        day_folder = district_folder / day
        for folder in (day_folder, district_folder):
            if folder.is_dir():
                return [folder]
        return []
