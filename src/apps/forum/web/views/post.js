// One post with its threaded comments: reply to the post or to any comment, vote, delete your
// own. Refreshed while on screen, unless you are in the middle of writing a reply.

import { del, get, post } from '../lib/api.js';
import { h, plural, replace, timeAgo } from '../lib/dom.js';
import { authorLine, busy, postCard, voteBox } from '../lib/widgets.js';
import { icon } from '../lib/icons.js';
import { richText } from '../lib/rich-text.js';

function replyForm(ctx, space, postId, parent, onDone, { autofocus = false } = {}) {
  const text = h('textarea', {
    name: 'body',
    rows: parent ? '2' : '3',
    placeholder: parent ? 'Write a reply…' : 'What do you think?',
    'data-test': parent ? 'reply-input' : 'comment-input',
  });
  const error = h('p.form-error', { role: 'alert' });
  const form = h(
    'form.reply-form',
    {
      onsubmit: (event) => {
        event.preventDefault();
        void busy(form, error, async () => {
          await post(`/forum/api/c/${space}/posts/${postId}/comments`, {
            body: text.value,
            parent: parent ?? null,
          });
          text.value = '';
          await onDone();
        });
      },
    },
    text,
    h(
      'div.row',
      {},
      h(
        'button.primary',
        { type: 'submit', 'data-test': parent ? 'reply-submit' : 'comment-submit' },
        parent ? 'Reply' : 'Comment',
      ),
    ),
    error,
  );
  if (autofocus) setTimeout(() => text.focus(), 0);
  return form;
}

function thread(ctx, space, postId, comments, reload) {
  const children = new Map();
  for (const comment of comments) {
    const key =
      comment.parent && comments.some((c) => c.id === comment.parent) ? comment.parent : null;
    if (!children.has(key)) children.set(key, []);
    children.get(key).push(comment);
  }
  const order = (list) =>
    [...list].sort((a, b) => b.score - a.score || a.created_at - b.created_at);
  const render = (comment, depth) => {
    const replies = h('div.replies');
    const slot = h('div.reply-slot');
    const node = h(
      'div.comment',
      { 'data-test': 'comment', 'data-id': comment.id },
      h(
        'div.comment-head',
        {},
        authorLine(comment),
        h('span.dot', {}, '·'),
        h('span.time', {}, timeAgo(comment.created_at)),
      ),
      richText('div.comment-body.markdown', { 'data-test': 'comment-body' }, comment.body),
      h(
        'div.comment-actions',
        {},
        voteBox(ctx, space, comment, { compact: true }),
        depth < 8
          ? h(
              'button.action',
              {
                type: 'button',
                'data-test': 'reply',
                onclick: () => {
                  if (slot.childElementCount > 0) return replace(slot);
                  replace(
                    slot,
                    replyForm(ctx, space, postId, comment.id, reload, { autofocus: true }),
                  );
                },
              },
              icon('reply'),
              'Reply',
            )
          : null,
        comment.mine
          ? h(
              'button.action.danger',
              {
                type: 'button',
                onclick: async () => {
                  await del(`/forum/api/c/${space}/comments/${comment.id}`);
                  await reload();
                },
              },
              'Delete',
            )
          : null,
      ),
      slot,
      replies,
    );
    for (const child of order(children.get(comment.id) ?? []))
      replies.append(render(child, depth + 1));
    return node;
  };
  return order(children.get(null) ?? []).map((c) => render(c, 0));
}

export async function showPost(ctx, main, space, postId) {
  const community = await get(`/forum/api/c/${space}`);
  const top = h('div');
  const comments = h('div.comments', { 'data-test': 'comments' });
  const heading = h('h2.comments-title');
  let shown = '';

  const load = async ({ force = false } = {}) => {
    // Do not pull the page from under someone who is typing a reply.
    const typing = [...comments.querySelectorAll('textarea')].some(
      (t) => t.value || t === document.activeElement,
    );
    if (typing && !force) return;
    const data = await get(`/forum/api/c/${space}/posts/${postId}`);
    const key = JSON.stringify(data);
    if (key === shown && !force) return;
    shown = key;
    replace(
      top,
      postCard(ctx, space, data.post, {
        full: true,
        onDelete: async () => {
          await del(`/forum/api/c/${space}/posts/${postId}`);
          ctx.toast('Post deleted.');
          ctx.navigate(`#/c/${space}`);
        },
      }),
    );
    heading.textContent = plural(data.comments.length, 'comment');
    replace(
      comments,
      data.comments.length === 0
        ? h('p.hint.empty-comments', {}, 'No comments yet.')
        : thread(ctx, space, postId, data.comments, () => load({ force: true })),
    );
    ctx.setTitle(data.post.title);
  };

  replace(
    main,
    h(
      'a.back',
      { href: `#/c/${space}` },
      '← ',
      community.name,
      community.private ? icon('lock') : null,
    ),
    top,
    h(
      'section.card.discussion',
      {},
      replyForm(ctx, space, postId, null, () => load({ force: true })),
      heading,
      comments,
    ),
  );
  await load({ force: true });
  ctx.live(() => load(), 3000);
}
