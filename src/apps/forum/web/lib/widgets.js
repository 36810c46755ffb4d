// Pieces shared by the views: vote arrows, author lines, post cards.

import { post as send } from './api.js';
import { avatar, h, plural, timeAgo } from './dom.js';
import { shortId } from './identity.js';
import { icon } from './icons.js';
import { excerptOf, richText } from './rich-text.js';

export function authorLine(item) {
  const name = item.author_name || shortId(item.author);
  return h(
    'span.author',
    {},
    avatar(item.author, item.author_name),
    h('span.author-name', { title: item.author }, name),
    item.author_name ? h('span.author-tag', {}, shortId(item.author).slice(-6)) : null,
  );
}

/** ▲ score ▼ ; clicking the active arrow again takes the vote back. */
export function voteBox(ctx, space, item, { compact = false } = {}) {
  let value = item.my_vote;
  let score = item.score;
  const scoreLabel = h('span.score', { 'data-test': 'score' }, String(score));
  const up = h('button.vote-up', { type: 'button', title: 'Upvote', 'aria-label': 'Upvote' }, '▲');
  const down = h(
    'button.vote-down',
    { type: 'button', title: 'Downvote', 'aria-label': 'Downvote' },
    '▼',
  );
  const paint = () => {
    up.classList.toggle('active', value === 1);
    down.classList.toggle('active', value === -1);
    scoreLabel.textContent = String(score);
    box.classList.toggle('positive', value === 1);
    box.classList.toggle('negative', value === -1);
  };
  const cast = async (wanted) => {
    const next = value === wanted ? 0 : wanted;
    const before = { value, score };
    score += next - value;
    value = next;
    paint();
    up.disabled = down.disabled = true;
    try {
      await send(`/forum/api/c/${space}/votes`, { item: item.id, value: next });
    } catch (error) {
      ({ value, score } = before);
      paint();
      ctx.toast(`Vote not saved: ${error.message}`, 'error');
    } finally {
      up.disabled = down.disabled = false;
    }
  };
  up.addEventListener('click', () => cast(1));
  down.addEventListener('click', () => cast(-1));
  const box = h(
    `div.vote${compact ? '.vote-inline' : ''}`,
    { 'data-test': 'vote' },
    up,
    scoreLabel,
    down,
  );
  paint();
  return box;
}

export function postCard(ctx, space, item, { full = false, onDelete } = {}) {
  const link = `#/c/${space}/p/${item.id}`;
  return h(
    'article.post.card',
    { 'data-test': 'post', 'data-id': item.id },
    voteBox(ctx, space, item),
    h(
      'div.post-main',
      {},
      full
        ? h('h1.post-title', { 'data-test': 'post-title' }, item.title)
        : h('a.post-title', { href: link, 'data-test': 'post-title' }, item.title),
      h('div.post-meta', {}, authorLine(item), h('span.dot', {}, '·'), timeAgo(item.created_at)),
      item.body
        ? full
          ? richText('div.post-body.markdown', { 'data-test': 'post-body' }, item.body)
          : h('p.post-excerpt', {}, excerptOf(item.body))
        : null,
      h(
        'div.post-actions',
        {},
        h('a.action', { href: link }, icon('comment'), plural(item.comments, 'comment')),
        item.mine && onDelete
          ? h('button.action.danger', { type: 'button', onclick: onDelete }, 'Delete')
          : null,
      ),
    ),
  );
}

/** Disables a form's controls while `work` runs; shows its error under the form. */
export async function busy(form, errorBox, work) {
  const controls = [...form.querySelectorAll('button, input, textarea')];
  controls.forEach((c) => (c.disabled = true));
  errorBox.textContent = '';
  try {
    await work();
  } catch (error) {
    errorBox.textContent = error.message;
  } finally {
    controls.forEach((c) => (c.disabled = false));
  }
}
