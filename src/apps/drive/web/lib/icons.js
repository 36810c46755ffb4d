// The drive's line icons: the forum's (served under /drive/shared/) and the drive's own, drawn
// as SVG by one function (no icon font, no emoji font needed).

import { ICON_PATHS, iconSet } from '../shared/icons.js';

export const icon = iconSet({
  ...ICON_PATHS,
  folder: ['M3 7a2 2 0 0 1 2-2h4l2 2h8a2 2 0 0 1 2 2v8a2 2 0 0 1-2 2H5a2 2 0 0 1-2-2z'],
  file: ['M6 3h8l4 4v14H6z', 'M14 3v4h4'],
  image: ['M4 5h16v14H4z', 'M4 16l5-5l4 4l3-3l4 4', 'M15 9h.01'],
  text: ['M6 3h8l4 4v14H6z', 'M9 12h6', 'M9 16h6'],
  upload: ['M12 16V4', 'M7 9l5-5l5 5', 'M5 20h14'],
  share: [
    'M16 6a2 2 0 1 0 0.01 0',
    'M6 12a2 2 0 1 0 0.01 0',
    'M16 18a2 2 0 1 0 0.01 0',
    'M8 11l6-4',
    'M8 13l6 4',
  ],
  plus: ['M12 5v14', 'M5 12h14'],
  close: ['M6 6l12 12', 'M18 6L6 18'],
  history: ['M12 3a9 9 0 1 1-8.5 6', 'M3 4v5h5', 'M12 8v4l3 2'],
});
