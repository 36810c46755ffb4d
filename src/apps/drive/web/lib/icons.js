// The drive's line icons, drawn as SVG (no icon font, no emoji font needed).

const SVG = 'http://www.w3.org/2000/svg';

const PATHS = {
  folder: ['M3 7a2 2 0 0 1 2-2h4l2 2h8a2 2 0 0 1 2 2v8a2 2 0 0 1-2 2H5a2 2 0 0 1-2-2z'],
  file: ['M6 3h8l4 4v14H6z', 'M14 3v4h4'],
  image: ['M4 5h16v14H4z', 'M4 16l5-5l4 4l3-3l4 4', 'M15 9h.01'],
  text: ['M6 3h8l4 4v14H6z', 'M9 12h6', 'M9 16h6'],
  upload: ['M12 16V4', 'M7 9l5-5l5 5', 'M5 20h14'],
  download: ['M12 4v11', 'M7 10l5 5l5-5', 'M5 20h14'],
  share: [
    'M16 6a2 2 0 1 0 0.01 0',
    'M6 12a2 2 0 1 0 0.01 0',
    'M16 18a2 2 0 1 0 0.01 0',
    'M8 11l6-4',
    'M8 13l6 4',
  ],
  plus: ['M12 5v14', 'M5 12h14'],
  lock: ['M7 11V8a5 5 0 0 1 10 0v3', 'M5 11h14v10H5z'],
  close: ['M6 6l12 12', 'M18 6L6 18'],
  history: ['M12 3a9 9 0 1 1-8.5 6', 'M3 4v5h5', 'M12 8v4l3 2'],
  copy: ['M9 9h11v11H9z', 'M5 15H4V4h11v1'],
};

export function icon(name, label) {
  const svg = document.createElementNS(SVG, 'svg');
  svg.setAttribute('viewBox', '0 0 24 24');
  svg.setAttribute('class', `icon icon-${name}`);
  svg.setAttribute('aria-hidden', label ? 'false' : 'true');
  if (label) svg.setAttribute('aria-label', label);
  for (const d of PATHS[name] ?? []) {
    const path = document.createElementNS(SVG, 'path');
    path.setAttribute('d', d);
    svg.append(path);
  }
  return svg;
}
